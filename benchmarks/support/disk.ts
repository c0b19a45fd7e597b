import { mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Where durability benchmarks keep their data: a fresh temp dir on a real disk (fsync on tmpfs costs
// nothing and would flatter every number), removed afterwards.

export interface DataRoot extends AsyncDisposable {
  readonly path: string
  // The filesystem it lives on, as statfs(2) names its type: ext4, xfs, …
  readonly filesystem: string
  // A path for one data dir under the root (not created).
  dir(name: string): string
}

// statfs(2) f_type magic numbers of the filesystems a benchmark machine is likely to have.
const filesystems = new Map<number, string>([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x2fc12fc1, 'zfs'],
  [0x794c7630, 'overlayfs'],
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
])
const inMemory = new Set(['tmpfs', 'ramfs'])

export async function dataRoot(): Promise<DataRoot> {
  const path = await mkdtemp(join(tmpdir(), 'zstate-bench-data-'))
  const remove = (): Promise<void> => rm(path, { recursive: true, force: true })
  const { type } = await statfs(path)
  const filesystem = filesystems.get(type) ?? `type 0x${type.toString(16)}`
  if (inMemory.has(filesystem)) {
    await remove()
    throw new Error(`${path} is on ${filesystem}: set TMPDIR to a directory on a disk`)
  }
  return { path, filesystem, dir: (name) => join(path, name), [Symbol.asyncDispose]: remove }
}

// Sizes in bytes of the regular files under `dir`, by path relative to it.
export async function fileSizes(dir: string, prefix = ''): Promise<Map<string, number>> {
  const sizes = new Map<string, number>()
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name)
    if (entry.isDirectory()) for (const [p, size] of await fileSizes(dir, path)) sizes.set(p, size)
    else if (entry.isFile()) sizes.set(path, (await stat(join(dir, path))).size)
  }
  return sizes
}
