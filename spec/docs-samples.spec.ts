import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, suite, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { startServer, type Server } from '../lib/index.ts'
import { composeWithSetup, readPages, type Block } from './docs-samples.ts'
import { until } from './process-support.ts'
import { etcdSkipReason, startEtcd } from './fixtures/etcd-cluster.ts'

// Every js, ts and sh block of README.md and docs/*.md runs as written, against the built package:
// js as an ES module, ts through tsx, sh with `bash -e -o pipefail` (a failing command fails it), each
// from a scratch directory inside this repository, where `import … from 'zstate'` resolves to this
// package, `zstate` on the PATH is dist/lib/cli/main.js and `npx zstate` finds this package too. What
// a block needs is declared on the line above it (`<!-- sample: … -->`, see spec/docs-samples.ts);
// otherwise it must start what it uses, close it, and exit 0 by itself within the time limit, leaving
// no process of its own behind. Failed samples keep their scratch directory under .scratch/.

const root = new URL('..', import.meta.url)
const rootPath = fileURLToPath(root)
const tsx = import.meta.resolve('tsx')
const LIMIT = 60_000

const pages = readPages(root)
const files = new Map<string, Block>()
for (const block of pages.flatMap((p) => p.blocks))
  if (block.directives.file !== undefined) files.set(block.directives.file, block)

let scratch = ''
let bin = ''
let count = 0
let failed = false

before(() => {
  const cli = new URL('dist/lib/cli/main.js', root)
  if (!existsSync(cli)) throw new Error('dist/ is missing: run "npm run build" first')
  mkdirSync(new URL('.scratch/', root), { recursive: true })
  scratch = mkdtempSync(join(rootPath, '.scratch', 'docs-samples-'))
  bin = join(scratch, 'bin')
  mkdirSync(bin)
  symlinkSync(fileURLToPath(cli), join(bin, 'zstate'))
})

after(() => {
  if (scratch !== '' && !failed) rmSync(scratch, { recursive: true, force: true })
})

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
  leftBehind: boolean
}

// One sample process in a process group of its own, so that whatever it leaves running is found.
class Sample {
  readonly #pid: number
  // Where its node processes write a diagnostic report on SIGUSR2 (see hangReport).
  readonly reports: string
  readonly exited: Promise<Exit>
  #output = ''

  constructor(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
    this.reports = join(cwd, 'reports')
    mkdirSync(this.reports, { recursive: true })
    const options = `--report-on-signal --report-signal=SIGUSR2 --report-directory=${this.reports}`
    env = { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} ${options}`.trim() }
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#pid = child.pid!
    const collect = (chunk: Buffer): void => {
      if (this.#output.length < 100_000) this.#output += chunk.toString()
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    // What it left running may hold its stdout open: its output is complete once that is gone too.
    const closed = once(child, 'close').catch(() => {})
    const exit = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('exit', (code, signal) => resolve([code, signal]))
      child.once('error', (error) => {
        this.#output += `${error.message}\n`
        resolve([null, null])
      })
    })
    this.exited = (async () => {
      const [code, signal] = await exit
      const leftBehind = await this.#leftBehind()
      await Promise.race([closed, sleep(2_000)])
      return { code, signal, output: this.#output, leftBehind }
    })()
  }

  signal(name: NodeJS.Signals): void {
    try {
      process.kill(-this.#pid, name)
    } catch {
      // already gone
    }
  }

  // Processes of its group still alive a few seconds after it exited (they are killed then).
  async #leftBehind(): Promise<boolean> {
    try {
      await until(() => !this.#groupAlive(), 'the sample’s process group is gone', 5_000)
      return false
    } catch {
      this.signal('SIGKILL')
      return true
    }
  }

  // How many node processes its process group holds now.
  nodeProcesses(): number {
    const table = execFileSync('ps', ['-e', '-o', 'pgid=,comm='], { encoding: 'utf8' })
    return table
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([group, command]) => Number(group) === this.#pid && command === 'node').length
  }

  #groupAlive(): boolean {
    try {
      process.kill(-this.#pid, 0)
      return true
    } catch {
      return false
    }
  }
}

function environment(server: Server | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }
  for (const name of [
    'NODE_TEST_CONTEXT',
    'NODE_OPTIONS',
    'ZSTATE_ADDRESS',
    'ZSTATE_SERVER_KEY',
    'ZSTATE_KEY_FILE',
    'FORCE_COLOR',
    'NO_COLOR',
  ])
    delete env[name]
  if (server !== undefined) env.ZSTATE_ADDRESS = server.address
  return env
}

// Writes the block (inside its setup, if it has one) and the files they name into a directory of its
// own, and starts it there. Its `docs` links to the repository's, so that the paths of sh blocks,
// which the docs give from the repository root, lead where they say.
function start(block: Block, setup: Block | undefined, env: NodeJS.ProcessEnv): Sample {
  const dir = join(scratch, String(++count))
  mkdirSync(dir)
  for (const name of [...block.directives.files, ...(setup?.directives.files ?? [])]) {
    const file = files.get(name)
    if (file === undefined) throw new Error(`${block.page}:${block.line}: no block declares file ${name}`)
    writeFileSync(join(dir, name), file.code)
  }
  const code = setup === undefined ? block.code : composeWithSetup(block, setup)
  if (block.language === 'sh') {
    symlinkSync(fileURLToPath(new URL('docs', root)), join(dir, 'docs'))
    writeFileSync(join(dir, 'sample.sh'), code)
    return new Sample('bash', ['-eo', 'pipefail', join(dir, 'sample.sh')], dir, env)
  }
  const name = block.directives.file ?? (block.language === 'ts' ? 'sample.ts' : 'sample.mjs')
  writeFileSync(join(dir, name), code)
  const loader = block.language === 'ts' || name.endsWith('.ts') ? ['--import', tsx] : []
  return new Sample(process.execPath, [...loader, join(dir, name)], dir, env)
}

async function finish(sample: Sample, label: string, limit: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limit)))
  try {
    const result = await Promise.race([sample.exited, timeout])
    if (result !== 'timeout') return result
    const report = await hangReport(sample)
    sample.signal('SIGKILL')
    const exit = await sample.exited
    assert.fail(`${label} did not exit within ${limit / 1000} s:\n${exit.output}\n${report}`)
  } finally {
    clearTimeout(timer)
  }
}

// What a hung sample's processes were waiting for: each writes a diagnostic report on SIGUSR2 (its
// libuv handles: sockets, timers, child processes), summarised here, so that a hang seen once in CI
// can be understood afterwards.
async function hangReport(sample: Sample): Promise<string> {
  sample.signal('SIGUSR2')
  const written = (): string[] =>
    existsSync(sample.reports) ? readdirSync(sample.reports).filter((f) => f.endsWith('.json')) : []
  // One from each node process of the group; one that cannot write it is left out after the bound.
  const nodes = sample.nodeProcesses()
  await until(() => written().length >= Math.max(1, nodes), 'the diagnostic reports', 3_000).catch(() => {})
  const lines: string[] = []
  for (const file of written()) {
    try {
      const report = JSON.parse(readFileSync(join(sample.reports, file), 'utf8')) as {
        header: { processId: number; commandLine: string[] }
        libuv: { type: string; is_active: boolean; is_referenced?: boolean; [detail: string]: unknown }[]
      }
      const handles = report.libuv
        .filter((handle) => handle.is_active && handle.is_referenced !== false)
        .map((handle) => {
          const {
            type,
            is_active: _active,
            is_referenced: _referenced,
            address: _address,
            ...details
          } = handle
          return `${type} ${JSON.stringify(details)}`
        })
      lines.push(`pid ${report.header.processId}: ${report.header.commandLine.join(' ')}`)
      for (const handle of handles) lines.push(`  ${handle}`)
    } catch (error) {
      lines.push(`${file}: ${(error as Error).message}`)
    }
  }
  return lines.length === 0 ? 'no diagnostic report' : `active handles:\n${lines.join('\n')}`
}

function assertClean(exit: Exit, label: string): void {
  assert.equal(exit.code, 0, `${label} exited with ${exit.code ?? exit.signal}:\n${exit.output}`)
  assert.ok(!exit.leftBehind, `${label} left processes running:\n${exit.output}`)
}

// The samples that need etcd name its default client URL: each gets a fresh member there, one at a
// time. Where etcd is missing they skip (CI installs it); where the port is taken, they skip too,
// saying so, except where components are required (CI), which must run them.
const ETCD_PORT = 2379
const etcdSkip = pages.some((p) => p.blocks.some((b) => b.directives.needsEtcd === true))
  ? etcdSkipReason('docs-samples.spec (its needs-etcd samples)')
  : undefined
let etcdTurn: Promise<unknown> = Promise.resolve()

async function portFree(port: number): Promise<boolean> {
  const probe = createServer()
  probe.listen(port, '127.0.0.1')
  const bound = await Promise.race([
    once(probe, 'listening').then(() => true),
    once(probe, 'error').then(() => false),
  ])
  if (bound) await new Promise((resolve) => probe.close(resolve))
  return bound
}

// Runs `body` with a fresh etcd on ETCD_PORT, after the samples before it that needed one.
function withEtcd(t: TestContext, body: () => Promise<void>): Promise<void> {
  const run = etcdTurn.then(async () => {
    if (!(await portFree(ETCD_PORT))) {
      const reason = `port ${ETCD_PORT}, where the sample expects etcd, is taken`
      if (process.env['ZSTATE_REQUIRE_COMPONENTS'] === '1') throw new Error(reason)
      process.stderr.write(`\n*** ${t.name}: SKIPPED: ${reason}\n\n`)
      return t.skip(reason)
    }
    const etcd = await startEtcd({ clientPort: ETCD_PORT })
    try {
      await body()
    } finally {
      await etcd.close()
    }
  })
  etcdTurn = run.catch(() => {})
  return run
}

// Runs one block, with the background blocks that run alongside it.
async function runSample(block: Block, setup: Block | undefined, background: Block[]): Promise<void> {
  const needsServer = [block, ...background].some((b) => b.directives.needsServer === true)
  const server = needsServer ? await startServer() : undefined
  try {
    const env = environment(server)
    const companions = background.map((b) => ({ block: b, sample: start(b, undefined, env) }))
    const exit = await finish(start(block, setup, env), `${block.page}:${block.line}`, LIMIT)
    assertClean(exit, `${block.page}:${block.line}`)
    for (const { block: b, sample } of companions) {
      sample.signal('SIGTERM')
      assertClean(await finish(sample, `${b.page}:${b.line} (background)`, 10_000), `${b.page}:${b.line}`)
    }
  } catch (error) {
    failed = true
    throw error
  } finally {
    await server?.close()
  }
}

void test('docs: every sample annotation is well-formed and names what exists', () => {
  const problems = pages.flatMap((p) => p.problems)
  for (const block of pages.flatMap((p) => p.blocks))
    for (const name of block.directives.files)
      if (!files.has(name)) problems.push(`${block.page}:${block.line}: no block declares file ${name}`)
  assert.deepEqual(problems, [])
})

void suite('docs samples', { concurrency: 2 }, () => {
  for (const { blocks } of pages) {
    let setup: Block | undefined
    let background: Block[] = []
    for (const block of blocks) {
      const { directives } = block
      const name = `docs: ${block.page}:${block.line} (${block.language}) runs as written`
      if (directives.skip !== undefined) {
        void test(name, { skip: directives.skip }, () => {})
        continue
      }
      if (directives.setup === true) setup = block
      if (directives.withSetup === true && setup === undefined)
        throw new Error(`${block.page}:${block.line}: 'with setup' but no setup above it`)
      if (directives.background === true) {
        background.push(block)
        continue
      }
      const around = directives.withSetup === true ? setup : undefined
      const alongside = background
      background = []
      if ([block, ...alongside].some((b) => b.directives.needsEtcd === true))
        void test(name, { timeout: LIMIT + 60_000, skip: etcdSkip }, (t) =>
          withEtcd(t, () => runSample(block, around, alongside)),
        )
      else void test(name, { timeout: LIMIT + 30_000 }, () => runSample(block, around, alongside))
    }
    if (background.length > 0)
      throw new Error(`${background[0]!.page}: a background block needs a next block`)
  }
})

// tsx strips types without looking at them: the ts samples (inside their setups) also go through tsc,
// so that the types they show, and the type errors they promise, are real.
void test('docs: the ts samples type-check against the built package', async () => {
  const dir = join(scratch, 'typecheck')
  mkdirSync(dir)
  const samples = []
  for (const { blocks } of pages) {
    let setup: Block | undefined
    for (const block of blocks) {
      if (block.directives.setup === true) setup = block
      if (block.language !== 'ts' || block.directives.skip !== undefined) continue
      const code = block.directives.withSetup === true ? composeWithSetup(block, setup!) : block.code
      const name = `${block.page.replaceAll('/', '-')}-${block.line}.ts`
      writeFileSync(join(dir, name), `${code}\nexport {}\n`)
      samples.push(name)
    }
  }
  assert.ok(samples.length > 0)
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: samples }))
  const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'))
  const exit = await finish(
    new Sample(process.execPath, [tsc, '-p', dir], dir, environment(undefined)),
    'tsc',
    LIMIT,
  )
  assert.equal(exit.code, 0, exit.output)
})

// Figures from benchmarks quoted elsewhere must be those of docs/benchmarks.md, which `npm run bench`
// regenerates: every rate (3.5M/s), ratio (1.08×) and time in µs (338 µs) outside code blocks, as a
// rounding of a figure of the same unit there.
void test('docs: benchmark figures quoted in README.md and docs/ are those of docs/benchmarks.md', () => {
  const figure = /(\d[\d,]*(?:\.\d+)?)(?:(k\/s|M\/s|\/s|×)|\s?(µs))(?![\w-])/g
  const scale: Record<string, number> = { 'k/s': 1e3, 'M/s': 1e6, '/s': 1, '×': 1, µs: 1 }
  const read = (page: string): string => readFileSync(new URL(page, root), 'utf8')
  const prose = (text: string): string => text.replace(/^\s*(```|~~~)[\s\S]*?^\s*\1\s*$/gm, '')
  const parse = (m: RegExpMatchArray): { value: number; step: number; unit: string; text: string } => {
    const digits = m[1]!.replaceAll(',', '')
    const unit = m[2] ?? m[3]!
    const factor = scale[unit]!
    const decimals = digits.split('.')[1]?.length ?? 0
    const kind = unit.endsWith('/s') ? '/s' : unit
    return { value: Number(digits) * factor, step: 10 ** -decimals * factor, unit: kind, text: m[0] }
  }
  const measured = [...read('docs/benchmarks.md').matchAll(figure)].map(parse)
  const stray: string[] = []
  for (const page of pages.map((p) => p.page).filter((p) => p !== 'docs/benchmarks.md')) {
    for (const quoted of [...prose(read(page)).matchAll(figure)].map(parse)) {
      const found = measured.some(
        (b) => b.unit === quoted.unit && Math.abs(b.value - quoted.value) <= quoted.step / 2 + 1e-9 * b.value,
      )
      if (!found) stray.push(`${page}: ${quoted.text}`)
    }
  }
  assert.deepEqual(stray, [])
})
