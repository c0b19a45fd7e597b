// The package version, read from the nearest package.json (the same code runs from lib/ and dist/lib/).
import { readFileSync } from 'node:fs'

function readVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'zstate' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this depth
    }
  }
  return '0.0.0'
}

export const VERSION = readVersion()
