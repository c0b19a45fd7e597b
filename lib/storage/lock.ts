// One server per data dir: `LOCK` names the owner's pid and the process's start time (so a
// recycled pid is not taken for the owner). A live owner's lock is refused (ERR_LOCKED); a dead
// owner's is taken over.
import { randomBytes } from 'node:crypto'
import { linkSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode, ZStateError } from '../errors.ts'
import { isSameProcess, processStart } from '../host.ts'
import { LOCK_FILE, makeDir, readDirFile } from './layout.ts'

// Held by a server while it replaces a dead owner's lock: LOCK.takeover.
const TAKEOVER_SUFFIX = '.takeover'

export interface DirLock {
  readonly path: string
  // Removes the lock file, if it still names this process. Idempotent.
  release(): Promise<void>
}

// The lock is written whole under a temporary name first, then linked into place: link() fails
// when the name exists (as O_EXCL does) and no one ever sees a half-written lock, so a lock that
// cannot be read is garbage, not a starting owner.
export async function acquireLock(dir: string): Promise<DirLock> {
  makeDir(dir)
  const path = join(dir, LOCK_FILE)
  const mine = `${process.pid} ${processStart(process.pid) ?? 0}\n`
  const temporary = join(dir, `${LOCK_FILE}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    // Inside the try: a disk with no space left makes the file and fails to fill it, and the finally
    // removes it as it does once the lock is taken.
    writeFileSync(temporary, mine, { mode: 0o600, flag: 'wx' })
    // A lock that disappears, or changes hands, while it is looked at: try again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (linked(temporary, path)) return held(path, mine)
      const owner = readOwner(path)
      if (owner === undefined) continue
      refuseIfAlive(owner, dir, path, 'is in use by the server of')
      if (takeOver(dir, path, temporary, owner.text)) return held(path, mine)
    }
    throw changingHands(dir, path)
  } finally {
    rmSync(temporary, { force: true })
  }
}

// Replaces a dead owner's lock, holding the takeover guard meanwhile: two servers starting at the
// same moment both find the lock dead, and without the guard each could replace it after the other
// had checked it, both then writing to the dir. The guard is taken as the lock is (link()); the
// lock is replaced only if it still is the dead owner's. false: it was not (taken over meanwhile).
function takeOver(dir: string, path: string, temporary: string, deadOwner: string): boolean {
  const guard = `${path}${TAKEOVER_SUFFIX}`
  for (let attempt = 0; !linked(temporary, guard); attempt++) {
    if (attempt === 3) throw changingHands(dir, guard)
    const taker = readOwner(guard)
    if (taker === undefined) continue // released meanwhile
    refuseIfAlive(taker, dir, guard, 'is being taken over by the server of')
    // Left by a server that died in the microseconds of its own takeover.
    rmSync(guard, { force: true })
  }
  try {
    if (readOwner(path)?.text !== deadOwner) return false
    renameSync(temporary, path)
    return true
  } finally {
    rmSync(guard, { force: true })
  }
}

// link() as an exclusive create: false when `to` exists.
function linked(from: string, to: string): boolean {
  try {
    linkSync(from, to)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

function changingHands(dir: string, path: string): ZStateError {
  return new ZStateError(ErrorCode.LOCKED, `${dir}: its lock keeps changing hands (${path})`)
}

function refuseIfAlive(owner: Owner, dir: string, path: string, what: string): void {
  if (owner.pid !== undefined && isSameProcess(owner.pid, owner.start))
    throw new ZStateError(ErrorCode.LOCKED, `${dir} ${what} pid ${owner.pid} (${path})`)
}

interface Owner {
  readonly text: string
  // Undefined when the file is garbage: no owner.
  readonly pid: number | undefined
  readonly start: number
}

// The owner a lock file names; undefined when the file is gone.
function readOwner(path: string): Owner | undefined {
  let text: string
  try {
    text = readDirFile(path).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  const match = /^(\d+) (\d+)\n$/.exec(text)
  if (match === null) return { text, pid: undefined, start: 0 }
  return { text, pid: Number(match[1]), start: Number(match[2]) }
}

function held(path: string, mine: string): DirLock {
  let released: Promise<void> | undefined
  return {
    path,
    release() {
      return (released ??= (async () => {
        const text = await readFile(path, 'utf8').catch(() => undefined)
        if (text === mine) await rm(path, { force: true })
      })())
    },
  }
}
