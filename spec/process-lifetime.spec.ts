import assert from 'node:assert/strict'
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { before, test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startServer } from '../lib/index.ts'
import { allGone, fixtureUrl, stressFor } from './process-support.ts'

// Children never outlive their parent, however it ends. Each case starts a parent process
// (spec/fixtures/process-parent.mjs, plain JavaScript on dist/) with a spinning child, an idle one,
// and a process child and a thread child that each spawned a spinning grandchild; then ends the
// parent and counts the surviving pids.

const parentScript = fileURLToPath(fixtureUrl('process-parent.mjs'))

before(() => {
  if (!existsSync(fileURLToPath(new URL('../dist/lib/index.js', import.meta.url))))
    throw new Error('dist/ is missing: run "npm run build" first')
})

interface Parent {
  readonly child: ChildProcess
  readonly pids: number[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

async function startParent(t: TestContext, address: string, action: string): Promise<Parent> {
  const child = spawn(process.execPath, [parentScript, address, action], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
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

for (const action of ['exit', 'throw', 'SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  void test(`process: children die with their parent on ${action}, busy or not, grandchildren too`, async (t) => {
    const signal = action === 'exit' || action === 'throw' ? undefined : action
    const parent = await startParent(t, '', signal === undefined ? action : 'wait')
    if (signal !== undefined) parent.child.kill(signal)
    const exit = await parent.exited
    if (action === 'exit') assert.equal(exit.code, 0)
    else if (action === 'throw') assert.equal(exit.code, 1)
    else assert.equal(exit.signal, action)
    // Including the context's own server process.
    await allGone(parent.pids)
  })
}

void test('process: on a server it does not own, a SIGKILLed parent’s children are reaped by the server', async (t) => {
  for (let round = 0; round < stressFor(1, 10); round++) {
    // A fresh server each round: the parent finds its children's pids in the state.
    const server = await startServer()
    t.after(() => server.close())
    const parent = await startParent(t, server.address, 'wait')
    const children = parent.pids.filter((pid) => pid !== process.pid)
    parent.child.kill('SIGKILL')
    await parent.exited
    // The spinning ones cannot notice their IPC channel closing: the server kills them.
    await allGone(children)
  }
})

void test('process: a script forked by someone else that calls connect() still exits by itself', async (t) => {
  const server = await startServer()
  t.after(() => server.close())
  // An IPC channel, as fork gives: a 'message' or 'disconnect' listener would keep it alive forever.
  const child = fork(fileURLToPath(fixtureUrl('foreign-connect.mjs')), [server.address], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [],
  })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const code = await new Promise<number | null>((resolve) =>
    child.once('exit', (exitCode) => resolve(exitCode)),
  )
  assert.equal(code, 0)
  assert.equal(child.connected, false)
})
