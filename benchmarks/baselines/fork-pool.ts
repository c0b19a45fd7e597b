import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

// The hand-written pool map() is measured against: `workers` forked processes (plain JavaScript, no
// zeromq), items sent in chunks of `chunk` over Node's IPC, a new chunk to whichever worker answers,
// results put back in input order. Started and stopped with each run, like a map() call.
const script = fileURLToPath(new URL('../sides/pool-worker.mjs', import.meta.url))

export async function forkPoolMap(
  fn: 'square' | 'heavy',
  items: readonly number[],
  workers: number,
  chunk: number,
): Promise<number[]> {
  const children: ChildProcess[] = Array.from({ length: workers }, () =>
    fork(script, [fn], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] }),
  )
  try {
    await Promise.all(children.map((child) => once(child, 'message')))
    const results = new Array<number>(items.length)
    let next = 0
    let pending = 0
    await new Promise<void>((resolve) => {
      const dispatch = (child: ChildProcess): void => {
        if (next >= items.length) {
          if (pending === 0) resolve()
          return
        }
        const start = next
        next = Math.min(items.length, next + chunk)
        pending++
        child.send([start, items.slice(start, next)])
      }
      for (const child of children) {
        child.on('message', ([start, values]: [number, number[]]) => {
          pending--
          for (let i = 0; i < values.length; i++) results[start + i] = values[i]!
          dispatch(child)
        })
        dispatch(child)
      }
    })
    return results
  } finally {
    for (const child of children) child.disconnect()
    await Promise.all(
      children.map((child) => (child.exitCode === null ? once(child, 'exit') : Promise.resolve())),
    )
  }
}
