// immer, loaded with require on first use: a process that never drafts or applies a patch (most
// children, a client that only reads and sets) never pays for it, about 2 ms of every start.
import { createRequire } from 'node:module'
import type { Immer } from 'immer'

type ImmerModule = typeof import('immer')

interface Immers {
  readonly module: ImmerModule
  // Drafts never freeze what callers put into them (writes store copies); applied results are frozen.
  readonly drafting: Immer
  readonly applying: Immer
}

let loaded: Immers | undefined

export function immer(): Immers {
  if (loaded !== undefined) return loaded
  const module = createRequire(import.meta.url)('immer') as ImmerModule
  module.enablePatches()
  loaded = {
    module,
    drafting: new module.Immer({ autoFreeze: false }),
    applying: new module.Immer({ autoFreeze: true }),
  }
  return loaded
}
