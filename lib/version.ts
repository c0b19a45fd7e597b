// The package version, from the package's package.json.
import { readFileSync } from 'node:fs'
import { packageJsonUrl } from './package-files.ts'

export const VERSION = (JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version: string }).version
