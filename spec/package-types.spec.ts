// The published declarations as a strict TypeScript consumer meets them: built from lib/ into a
// private staging dir (never the shared dist/), packed, installed into a scratch project, and
// type-checked there with skipLibCheck false.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import ts from 'typescript'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const tscPath = join(root, 'node_modules/typescript/bin/tsc')

// What a typical strict consumer sets (TypeScript 6 no longer loads every @types package by default).
const typical = {
  strict: true,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  types: ['node'],
  noEmit: true,
  skipLibCheck: false,
  noUnusedLocals: true,
}
// The strictest flags in common use, as zstate's own tsconfig sets them.
const strictest = {
  ...typical,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  noPropertyAccessFromIndexSignature: true,
  verbatimModuleSyntax: true,
}

// A consumer that names no @types package (TypeScript 7 loads none unless listed): the package's
// declarations load Node's types themselves, from the @types/node installed beside them.
const bare = { ...typical, types: [] }
const PLAIN = `import { connect } from 'zstate'
const c = await connect<{ n: number }>('ipc:///tmp/x')
await c.state.set('n', 1)
await c.close()
`

// A CommonJS consumer (a .cts file: its imports are require()s), which gets lib/index.d.cts.
const COMMONJS = `import zstate = require('zstate')
async function use(): Promise<zstate.Client<{ n: number }>> {
  const client = await zstate.connect<{ n: number }>('ipc:///tmp/x')
  await client.state.set('n', 1)
  const ctx: zstate.Context = await zstate.createContext()
  await ctx.close()
  const error: unknown = new zstate.ZStateError(zstate.ErrorCode.TIMEOUT, 'x')
  if (zstate.isZStateError(error) && error instanceof zstate.ZStateError)
    void (error.code satisfies zstate.ErrorCode)
  return client
}
export = use
`

// Must fail: 'x' is not a number.
const BAD = `import { connect } from 'zstate'
const c = await connect<{ n: number }>()
await c.state.set('n', 'x')
`

interface Diagnostic {
  file: string
  line: number
  code: string
  text: string
}

interface Checked {
  diagnostics: Diagnostic[]
  files: string[]
}

const dir = mkdtempSync(join(tmpdir(), 'zstate-types-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const project = join(dir, 'project')
let typicalRun: Checked
let strictestRun: Checked
let bareRun: Checked

before(
  async () => {
    const tarball = await pack(dir)
    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    )
    const typesNode = JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8'))
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        tarball,
        `@types/node@${typesNode.version}`,
      ],
      { cwd: project },
    )
    cpSync(join(root, 'spec/fixtures/consumer-types.ts'), join(project, 'use.ts'))
    writeFileSync(join(project, 'bad.ts'), BAD)
    writeFileSync(join(project, 'plain.ts'), PLAIN)
    writeFileSync(join(project, 'commonjs.cts'), COMMONJS)
    writeConfig('tsconfig.bare.json', bare, ['plain.ts'])
    writeConfig('tsconfig.json', typical, ['use.ts', 'bad.ts', 'commonjs.cts'])
    // Every declaration file the package ships is checked too, the internal ones included.
    writeConfig('tsconfig.strictest.json', strictest, [
      'use.ts',
      'bad.ts',
      'commonjs.cts',
      'node_modules/zstate/dist/**/*.d.ts',
    ])
    ;[typicalRun, strictestRun, bareRun] = await Promise.all([
      typeCheck('tsconfig.json'),
      typeCheck('tsconfig.strictest.json'),
      typeCheck('tsconfig.bare.json'),
    ])
  },
  { timeout: 300_000 },
)

// The package as `npm pack` makes it, from a build of lib/ into a staging dir with package.json and
// the other entries of its `files`.
async function pack(dir: string): Promise<string> {
  const stage = join(dir, 'stage')
  try {
    await run(process.execPath, [
      tscPath,
      '-p',
      join(root, 'tsconfig.build.json'),
      '--outDir',
      join(stage, 'dist'),
    ])
  } catch (error) {
    const { stdout } = error as { stdout: string }
    assert.fail(`lib/ does not build:\n${stdout}`)
  }
  // As the build copies it (tsc emits nothing for a declaration file).
  cpSync(join(root, 'lib/index.d.cts'), join(stage, 'dist/lib/index.d.cts'))
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }
  // What the package ships besides dist/ (an entry starting with ! leaves something out).
  const others = manifest.files.filter((f) => !f.startsWith('dist') && !f.startsWith('!'))
  for (const entry of ['package.json', ...others])
    cpSync(join(root, entry), join(stage, entry), { recursive: true })
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
    cwd: stage,
  })
  return join(dir, stdout.trim().split('\n').pop()!)
}

function writeConfig(name: string, compilerOptions: object, files: string[]): void {
  const include = files.filter((f) => f.includes('*'))
  const config = { compilerOptions, files: files.filter((f) => !f.includes('*')), include }
  writeFileSync(join(project, name), JSON.stringify(config, null, 2))
}

// Runs the repository's tsc on the scratch project; its exit code only says whether there were errors.
async function typeCheck(config: string): Promise<Checked> {
  let stdout: string
  try {
    stdout = (
      await run(process.execPath, [tscPath, '-p', config, '--listFiles', '--pretty', 'false'], {
        cwd: project,
      })
    ).stdout
  } catch (error) {
    stdout = (error as { stdout: string }).stdout
  }
  const diagnostics: Diagnostic[] = []
  const files: string[] = []
  for (const line of stdout.split('\n')) {
    const located = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line)
    const global = /^error (TS\d+): (.*)$/.exec(line)
    if (located !== null)
      diagnostics.push({ file: located[1]!, line: Number(located[2]), code: located[3]!, text: located[4]! })
    else if (global !== null) diagnostics.push({ file: '', line: 0, code: global[1]!, text: global[2]! })
    else if (line.startsWith('/')) files.push(line)
  }
  return { diagnostics, files }
}

const show = (diagnostics: Diagnostic[]): string =>
  diagnostics.map((d) => `${d.file}(${d.line}): ${d.code} ${d.text}`).join('\n')

// Names lib/index.ts exports (values and types), or names a file imports from 'zstate'.
function namesIn(file: string, pick: (statement: ts.Statement) => readonly string[]): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest)
  return source.statements.flatMap(pick).sort()
}

const exportedNames = (statement: ts.Statement): string[] => {
  if (ts.isFunctionDeclaration(statement) && statement.name !== undefined)
    return statement.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
      ? [statement.name.text]
      : []
  if (
    ts.isExportDeclaration(statement) &&
    statement.exportClause &&
    ts.isNamedExports(statement.exportClause)
  )
    return statement.exportClause.elements.map((e) => e.name.text)
  return []
}

const importedFromZstate = (statement: ts.Statement): string[] => {
  if (!ts.isImportDeclaration(statement) || (statement.moduleSpecifier as ts.StringLiteral).text !== 'zstate')
    return []
  const bindings = statement.importClause?.namedBindings
  return bindings && ts.isNamedImports(bindings) ? bindings.elements.map((e) => e.name.text) : []
}

// The files a consumer's program holds, relative to the project, as tsc names them in diagnostics.
const loaded = (checked: Checked): Set<string> =>
  new Set(checked.files.map((file) => file.slice(project.length + 1)))

test('package types: a strict consumer using every export type-checks against the packed package', () => {
  const exported = namesIn(join(root, 'lib/index.ts'), exportedNames)
  assert.deepEqual(
    namesIn(join(project, 'use.ts'), importedFromZstate),
    exported,
    'use.ts imports every export',
  )
  const consumerFiles = loaded(typicalRun)
  for (const [name, checked] of [
    ['typical', typicalRun],
    ['strictest', strictestRun],
  ] as const) {
    const unexpected = checked.diagnostics.filter(
      (d) => d.file !== 'bad.ts' && (d.file === '' || consumerFiles.has(d.file)),
    )
    assert.equal(unexpected.length, 0, `${name} tsconfig:\n${show(unexpected)}`)
  }
})

test('package types: a consumer that lists no @types package (types: []) type-checks', () => {
  assert.equal(bareRun.diagnostics.length, 0, show(bareRun.diagnostics))
  assert.ok(
    bareRun.files.some((f) => f.includes('/node_modules/@types/node/')),
    'Node types loaded',
  )
})

test('package types: the CommonJS declarations name every export of lib/index.ts', () => {
  const exported = namesIn(join(root, 'lib/index.ts'), exportedNames)
  // `export type *` covers the type-only exports (export type { … }); anything else must be declared.
  const typeOnly = namesIn(join(root, 'lib/index.ts'), (statement) =>
    ts.isExportDeclaration(statement) && statement.isTypeOnly ? exportedNames(statement) : [],
  )
  const declared = new Set(
    namesIn(join(root, 'lib/index.d.cts'), (statement) => {
      if (ts.isTypeAliasDeclaration(statement)) return [statement.name.text]
      if (ts.isVariableStatement(statement))
        return statement.declarationList.declarations.map((d) => (d.name as ts.Identifier).text)
      if (ts.isExportDeclaration(statement) && statement.isTypeOnly && statement.exportClause === undefined)
        return typeOnly
      return exportedNames(statement)
    }),
  )
  assert.deepEqual([...declared].sort(), exported)
  const loaded = typicalRun.files.filter((f) => f.includes('/node_modules/zstate/'))
  assert.ok(
    loaded.some((f) => f.endsWith('/dist/lib/index.d.cts')),
    'the .cts consumer got them',
  )
})

test('package types: a wrong value type for a typed state key is a type error', () => {
  for (const checked of [typicalRun, strictestRun]) {
    const bad = checked.diagnostics.filter((d) => d.file === 'bad.ts')
    assert.equal(bad.length, 1, show(bad))
    assert.equal(bad[0]!.line, 3)
    assert.equal(bad[0]!.code, 'TS2345')
    assert.match(bad[0]!.text, /type '(string|"x")' is not assignable to parameter of type 'number'/)
  }
})

test('package types: the declarations a consumer loads declare no internal class', () => {
  const published = typicalRun.files.filter((f) => f.includes('/node_modules/zstate/'))
  assert.ok(
    published.some((f) => f.endsWith('/dist/lib/index.d.ts')),
    typicalRun.files.join('\n'),
  )
  // The only classes users may see are those lib/index.ts exports: the errors.
  const exported = namesIn(join(root, 'lib/index.ts'), exportedNames)
  for (const file of published) {
    const text = readFileSync(file, 'utf8')
    for (const [, name] of text.matchAll(/\bdeclare (?:abstract )?class (\w+)/g))
      assert.ok(exported.includes(name!), `${file} declares the internal class ${name}`)
    assert.doesNotMatch(text, /\b(ClientImpl|ContextImpl|StateView)\b/, file)
  }
})

test('package types: every declaration file the package ships type-checks, internal ones included', () => {
  const broken = strictestRun.diagnostics.filter((d) => d.file.startsWith('node_modules/zstate/'))
  assert.equal(broken.length, 0, show(broken))
})
