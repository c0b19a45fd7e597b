// Storage spec plumbing: private temp dirs, warnings caught, commits made by a real Store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { ChangeKind, type WireChange } from '../lib/protocol/ops.ts'
import { Store } from '../lib/server/store.ts'
import { commitHead, listDir } from '../lib/storage/layout.ts'
import { LogWriter, type LogWriterOptions } from '../lib/storage/log-writer.ts'
import { scanRecords, type ScannedRecord } from '../lib/storage/records.ts'
import { recover, type Recovered } from '../lib/storage/recovery.ts'

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'zstate-storage-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Every warning emitted from now until the test ends; read after `settled()` (warnings are emitted
// on the next tick).
export function warnings(t: TestContext): { list: (Error & { code?: string })[]; settled(): Promise<void> } {
  const list: (Error & { code?: string })[] = []
  const seen = (warning: Error): void => void list.push(warning)
  process.on('warning', seen)
  t.after(() => void process.off('warning', seen))
  return { list, settled: () => turn().then(() => undefined) }
}

// A store whose commits set k<i> = i, one key per commit: the encoded commits, `count` of them.
export function setCommits(store: Store, count: number, value = (i: number): unknown => i): Buffer[] {
  const commits: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const revision = store.revision + 1
    const change: WireChange = [`k${revision}`, ChangeKind.SET, value(revision)]
    commits.push(store.commit([change], undefined, [1, revision]).bytes)
  }
  return commits
}

// A new dir's log, opened as the server opens it: recover, then a writer on its tail.
export async function openLog(
  dir: string,
  options: Partial<LogWriterOptions> = {},
): Promise<{ writer: LogWriter; recovered: Recovered }> {
  const recovered = await recover(dir, { repair: false })
  const writer = LogWriter.open(dir, recovered.tail, { fsync: 'always', epoch: 'e1', ...options })
  return { writer, recovered }
}

export function segmentPaths(dir: string): string[] {
  return listDir(dir).segments.map((file) => file.path)
}

export function recordsOf(path: string): ScannedRecord[] {
  return scanRecords(readFileSync(path)).records
}

export function revisionsOf(commits: readonly Buffer[]): number[] {
  return commits.map((commit) => commitHead(commit)!.revision)
}
