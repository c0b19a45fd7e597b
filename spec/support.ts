// Test plumbing: private temp dirs, servers on ipc and tcp, and client processes driven over IPC.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import {
  connect,
  startServer,
  type Client,
  type ConnectOptions,
  type Server,
  type ServerOptions,
} from '../lib/index.ts'

export const stress = process.env.ZSTATE_STRESS === '1'
export const transports = ['ipc', 'tcp'] as const
export type Transport = (typeof transports)[number]

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'zstate-spec-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function addressFor(t: TestContext, transport: Transport): string {
  return transport === 'ipc' ? `ipc://${join(tempDir(t), 'state')}` : 'tcp://127.0.0.1:*'
}

// Clients of a server that serverFor closes before the server (see clientFor).
const clientsOf = new WeakMap<Server, { close(): Promise<void> }[]>()

export async function serverFor(
  t: TestContext,
  transport: Transport,
  options: ServerOptions = {},
): Promise<Server> {
  const server = await startServer({ address: addressFor(t, transport), ...options })
  const clients: { close(): Promise<void> }[] = []
  clientsOf.set(server, clients)
  t.after(async () => {
    await Promise.all(clients.map((client) => client.close()))
    await server.close()
  })
  return server
}

// A client of a server from serverFor, closed when the test ends, before its server: after hooks run
// in the order they were added, and a client closed after its server waits a second for an answer to
// its goodbye.
export async function clientFor<S extends object = Record<string, unknown>>(
  server: Server,
  options?: ConnectOptions,
): Promise<Client<S>> {
  const clients = clientsOf.get(server)
  if (clients === undefined) throw new Error('clientFor: the server is not from serverFor')
  const client = await connect<S>(server.address, options)
  clients.push(client)
  return client
}

// Two clients of one in-process server on ipc, closed when the test ends (the clients first).
export async function pair<S extends object = Record<string, unknown>>(
  t: TestContext,
  options: ServerOptions = {},
): Promise<[Client<S>, Client<S>]> {
  const server = await serverFor(t, 'ipc', options)
  return [await clientFor<S>(server), await clientFor<S>(server)]
}

const fixtures = new URL('./fixtures/', import.meta.url)

// A child process running spec/fixtures/<name>.mjs; `call` sends a command and awaits its answer.
export class Fixture {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #next = 1
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #events: unknown[] = []
  #eventWaiters: (() => void)[] = []

  constructor(name: string, args: string[], env: Record<string, string> = {}) {
    this.child = fork(new URL(`${name}.mjs`, fixtures), args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    )
    this.child.on(
      'message',
      (message: {
        id?: number
        ok?: boolean
        value?: unknown
        error?: { message: string; code?: string }
        event?: unknown
      }) => {
        if (message.event !== undefined) {
          this.#events.push(message.event)
          for (const wake of this.#eventWaiters.splice(0)) wake()
          return
        }
        const pending = this.#pending.get(message.id!)
        if (pending === undefined) return
        this.#pending.delete(message.id!)
        if (message.ok === true) pending.resolve(message.value)
        else pending.reject(Object.assign(new Error(message.error?.message), { code: message.error?.code }))
      },
    )
    void this.exited.then(({ code, signal }) => {
      for (const pending of this.#pending.values())
        pending.reject(new Error(`fixture ${name} exited (${code ?? signal})`))
      this.#pending.clear()
      for (const wake of this.#eventWaiters.splice(0)) wake()
    })
  }

  call<T = unknown>(command: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ id, command, args })
    })
  }

  // Waits for the n-th event the fixture pushed (counting from 1).
  async event(n: number): Promise<unknown> {
    while (this.#events.length < n) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error('fixture exited before the event')
      await new Promise<void>((resolve) => this.#eventWaiters.push(resolve))
    }
    return this.#events[n - 1]
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
    await this.exited
  }
}

export function fixture(
  t: TestContext,
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Fixture {
  const f = new Fixture(name, args, env)
  t.after(() => f.stop())
  return f
}

// Connects a client in a child process (spec/fixtures/client.mjs).
export async function clientProcess(t: TestContext, address: string, name = 'client'): Promise<Fixture> {
  const f = fixture(t, 'client', [address, name])
  await f.event(1) // 'ready'
  return f
}
