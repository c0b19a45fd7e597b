// Plumbing for the process specs: contexts that close after the test, fixture URLs, and waiting for
// processes to be gone (bounded polling: a pid has no event to wait on).
import type { TestContext } from 'node:test'
import { processStart } from '../lib/host.ts'
import { createContext, type Context, type ContextOptions } from '../lib/index.ts'

export const fixtureUrl = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url)

export async function contextFor<S extends object = Record<string, unknown>>(
  t: TestContext,
  options: ContextOptions = {},
): Promise<Context<S>> {
  const ctx = await createContext<S>({ name: t.name.slice(0, 60), ...options })
  t.after(() => ctx.close())
  return ctx
}

// False once the process has exited (a zombie nobody reaped yet counts as exited).
export function alive(pid: number): boolean {
  return processStart(pid) !== undefined
}

// Polls until `condition` holds; fails after `timeout` ms, naming what it waited for.
export async function until(condition: () => boolean, what: string, timeout = 30_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export async function allGone(pids: readonly number[], timeout = 30_000): Promise<void> {
  await until(
    () => pids.every((pid) => !alive(pid)),
    `pids ${pids.filter(alive).join(', ')} are gone`,
    timeout,
  )
}

// Rejections as values, for assertions on their shape.
export async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

// A count for `npm test`, or the full one under ZSTATE_STRESS=1.
export function stressFor(normal: number, full: number): number {
  return process.env['ZSTATE_STRESS'] === '1' ? full : normal
}
