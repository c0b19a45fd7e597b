import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// A private (0700, as mkdtemp makes it) directory for ipc:// endpoints, removed afterwards.
export interface IpcDir extends AsyncDisposable {
  endpoint(name: string): string
}

export async function ipcDir(): Promise<IpcDir> {
  const path = await mkdtemp(join(tmpdir(), 'zstate-bench-'))
  return {
    endpoint: (name) => `ipc://${join(path, `${name}.sock`)}`,
    [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }),
  }
}
