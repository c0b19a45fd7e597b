// CurveZMQ key files: `zstate keygen` writes a key pair as one JSON line, which --key-file and
// --curve-secret-file read back; an authorized-keys file lists public keys, one a line.
import { readFile, stat } from 'node:fs/promises'
import { generateKeyPair } from '../index.ts'
import { isKeyPair } from '../protocol/key-proof.ts'
import { isCurveKey } from '../protocol/z85.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { shellWord } from './shell.ts'

export interface KeyPair {
  readonly publicKey: string
  readonly secretKey: string
}

export const KEY_SHAPE = '40 Z85 characters'

// `zstate keygen`: a fresh key pair on stdout.
export function keygen(io: Io): number {
  const { publicKey, secretKey } = generateKeyPair()
  io.stdout.write(`${JSON.stringify({ publicKey, secretKey })}\n`)
  return EXIT_OK
}

// Reads a keygen file; `source` says where its path came from (`option --key-file`, `ZSTATE_KEY_FILE`).
export async function readKeyPair(path: string, source: string, io: Io): Promise<KeyPair> {
  const text = await read(path, source)
  let pair: unknown
  try {
    pair = JSON.parse(text)
  } catch {
    pair = undefined
  }
  // Its content is never quoted back: it holds a secret.
  const expected = `expected the JSON line of zstate keygen, {"publicKey":"…","secretKey":"…"}`
  if (typeof pair !== 'object' || pair === null) throw new Error(`${source} ${path}: ${expected}`)
  const key = (name: keyof KeyPair): string => {
    const value: unknown = Object.hasOwn(pair, name) ? Reflect.get(pair, name) : undefined
    if (typeof value !== 'string') throw new Error(`${source} ${path}: no "${name}": ${expected}`)
    if (!isCurveKey(value)) throw new Error(`${source} ${path}: "${name}" is not ${KEY_SHAPE}`)
    return value
  }
  const keys = { publicKey: key('publicKey'), secretKey: key('secretKey') }
  // Checked here too, so that the message names the file rather than options the user never typed.
  if (!isKeyPair(keys.publicKey, keys.secretKey))
    throw new Error(
      `${source} ${path}: its publicKey is not the public key of its secretKey (two different pairs?)`,
    )
  await warnIfExposed(path, io)
  return keys
}

// Reads an authorized-keys file: one public key a line; blank lines and `#` comments are skipped.
// Z85 has `#` too, but never first in a key: a comment starts a line, or follows a blank.
export async function readAuthorizedKeys(path: string): Promise<string[]> {
  const source = 'option --authorized-keys'
  const keys: string[] = []
  const lines = (await read(path, source)).split(/\r?\n/)
  await refuseIfWritable(path, source)
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/(^|\s)#.*/, '').trim()
    if (line === '') continue
    // Not `if (!isCurveKey(line))`: its type guard would narrow a string that fails it to never.
    const valid: boolean = isCurveKey(line)
    if (!valid) {
      // Never quoted: a secret key pasted in place of a public one (a keygen line, a "secretKey=…", a
      // pair on one line) would go to the terminal and the service's log.
      const what = isJsonObject(line)
        ? 'a keygen JSON line (which holds a secret key): put only its publicKey here'
        : `${line.length} characters${/\s/.test(line) ? ' in several words' : ''} (not quoted: it may hold a secret key)`
      throw new Error(`${path}:${index + 1}: expected a public key (${KEY_SHAPE}), got ${what}`)
    }
    keys.push(line)
  }
  if (keys.length === 0) {
    throw new Error(
      `${source} ${path} lists no public key, so no client could connect ` +
        '(--authorized-keys any encrypts without checking client keys)',
    )
  }
  return keys
}

async function read(path: string, source: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error)
    const messages: Record<string, string> = {
      ENOENT: 'no such file',
      EACCES: 'permission denied',
      EISDIR: 'is a directory',
    }
    throw new Error(`${source} ${path}: cannot read it (${messages[reason] ?? reason})`, { cause: error })
  }
}

// Whoever may change the file may let their own key in: refused, as ssh's StrictModes refuses an
// authorized_keys file that its group or others can write.
async function refuseIfWritable(path: string, source: string): Promise<void> {
  if (process.platform === 'win32') return
  const { mode } = await stat(path)
  if ((mode & 0o022) === 0) return
  const octal = (mode & 0o777).toString(8).padStart(4, '0')
  throw new Error(
    `${source} ${path}: other users can change it (mode ${octal}), so they could authorize their own keys; ` +
      `chmod go-w ${shellWord(path)}`,
  )
}

// As ssh does for a private key, but only a warning: the command goes on.
async function warnIfExposed(path: string, io: Io): Promise<void> {
  if (process.platform === 'win32') return
  const { mode } = await stat(path)
  if ((mode & 0o044) === 0) return
  const octal = (mode & 0o777).toString(8).padStart(4, '0')
  io.stderr.write(
    `zstate: warning: ${path} holds a secret key but other users can read it (mode ${octal}); ` +
      `chmod 600 ${shellWord(path)}\n`,
  )
}

// A keygen line is a JSON object; a Z85 key may start with `{` too, so the brace alone tells nothing.
function isJsonObject(line: string): boolean {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}
