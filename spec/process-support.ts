// Plumbing for the process specs: contexts that close after the test, fixture URLs, parent processes
// with a family of children, and waiting for processes to be gone (bounded polling: a pid has no
// event to wait on).
import { setTimeout as sleep } from 'node:timers/promises'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { processStart } from '../lib/host.ts'
import { createContext, type Context, type ContextOptions } from '../lib/index.ts'
import type * as Zstate from '../lib/index.ts'

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

// Checks until `condition` holds; fails after `timeout` ms, naming what it waited for. Only for
// conditions nothing announces (whether a process that is not ours still exists, a status the server
// derives from elapsed silence): anything with an event is awaited on that event instead. Checks
// back off from 5 ms to `maxPause` (100 ms), so a condition that holds soon is seen soon and a long
// wait stays cheap; a condition that holds only briefly needs a smaller `maxPause`.
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeout = 30_000,
  maxPause = 100,
): Promise<void> {
  const deadline = Date.now() + timeout
  for (let pause = 5; !(await condition()); pause = Math.min(pause * 2, maxPause)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting until ${what}`)
    await sleep(pause)
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

// Files in `dir` whose names start with `prefix`: the marks worker fixtures leave (started-<pid>, …).
export function marks(dir: string, prefix: string): number {
  return readdirSync(dir).filter((name) => name.startsWith(prefix)).length
}

// The specs that run parents in plain JavaScript need the built package.
export function assertDistBuilt(): void {
  if (!existsSync(fileURLToPath(new URL('../dist/lib/index.js', import.meta.url))))
    throw new Error('dist/ is missing: run "npm run build" first')
}

// A context of the built package (dist/), whose children run its bootstrap, closed after the test.
export async function builtContext(t: TestContext, options: Zstate.ContextOptions): Promise<Zstate.Context> {
  assertDistBuilt()
  const built = (await import(new URL('../dist/lib/index.js', import.meta.url).href)) as typeof Zstate
  const ctx = await built.createContext(options)
  t.after(() => ctx.close())
  return ctx
}

export interface Parent {
  readonly child: ChildProcess
  // Every process of its family: its children and grandchildren, and its server.
  readonly pids: number[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

// A parent process (spec/fixtures/process-parent.mjs, on dist/) with a context on `address` (or its
// own server for ''), once its spinning child, idle child, and a process child and a thread child
// that each spawned a spinning grandchild all run; then it does `action` (exit | throw | wait).
export async function startParent(t: TestContext, address: string, action: string): Promise<Parent> {
  const script = fileURLToPath(fixtureUrl('process-parent.mjs'))
  const child = spawn(process.execPath, [script, address, action], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
    })
    void exited.then(({ code }) =>
      reject(new Error(`the parent exited (${code}) before it was ready:\n${err}`)),
    )
  })
  const report = JSON.parse(line) as { parent: number; pids: Record<string, number> }
  const pids = Object.values(report.pids).filter((pid) => pid !== report.parent)
  // spin, idle, nest, nest.spin, thread.spin, and the server (its own or the test's)
  assert.equal(new Set(pids).size, 6)
  return { child, pids, exited }
}
