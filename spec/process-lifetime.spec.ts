import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startServer } from '../lib/index.ts'
import { allGone, assertDistBuilt, fixtureUrl, startParent } from './process-support.ts'

// Children never outlive their parent, however it ends. Each case starts a parent process
// (spec/fixtures/process-parent.mjs, plain JavaScript on dist/) with a spinning child, an idle one,
// and a process child and a thread child that each spawned a spinning grandchild; then ends the
// parent and counts the surviving pids. (A parent on a server it does not own: process-ownership.)

before(assertDistBuilt)

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
