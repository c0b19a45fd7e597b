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
    // A lock that disappears while it is looked at was released: try again, a few times.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temporary, path)
        return held(path, mine)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const owner = readOwner(path)
      if (owner === undefined) continue
      if (owner.pid !== undefined && isSameProcess(owner.pid, owner.start))
        throw new ZStateError(
          ErrorCode.LOCKED,
          `${dir} is in use by the server of pid ${owner.pid} (${path})`,
        )
      // A dead owner's lock, replaced whole. Two servers starting at that very moment could both
      // replace it: reading it back catches the one whose copy was replaced in turn, unless both
      // read before either renames (a window of microseconds).
      renameSync(temporary, path)
      if (readOwner(path)?.text !== mine)
        throw new ZStateError(ErrorCode.LOCKED, `${dir} was taken over by another server at the same time`)
      return held(path, mine)
    }
    throw new ZStateError(ErrorCode.LOCKED, `${dir}: its lock keeps changing hands (${path})`)
  } finally {
    rmSync(temporary, { force: true })
  }
}

// The lock's owner; pid undefined when the file is garbage (no owner); undefined when it is gone.
function readOwner(path: string): { text: string; pid: number | undefined; start: number } | undefined {
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
