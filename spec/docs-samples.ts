// The samples of README.md and docs/*.md as spec/docs-samples.spec.ts runs them: every fenced block
// tagged js, ts or sh, with what the line `<!-- sample: … -->` right above it declares.
import { readdirSync, readFileSync } from 'node:fs'

export type Language = 'js' | 'ts' | 'sh'

const languages: Record<string, Language> = {
  js: 'js',
  javascript: 'js',
  mjs: 'js',
  ts: 'ts',
  typescript: 'ts',
  mts: 'ts',
  sh: 'sh',
  bash: 'sh',
  shell: 'sh',
}

// What a block declares, read from `<!-- sample: DIRECTIVE, DIRECTIVE… -->` on the line above it:
//   skip (REASON)   not run, for the reason given (a synopsis, `npm install`)
//   setup           the page's setup: run on its own, and around every `with setup` block below it,
//                   which replaces the setup's line `// …` (its imports go to the top)
//   with setup      runs inside the nearest setup above it on the same page
//   file NAME       a module other samples use, written as NAME; run on its own it only loads
//   files NAME…     the `file` blocks (of any page) written next to this one
//   needs-server    runs with ZSTATE_ADDRESS naming a fresh server
//   needs-etcd      runs with a fresh one-member etcd on http://127.0.0.1:2379, one such sample at a
//                   time (skipped, saying why, where etcd is not installed or the port is taken)
//   background      starts before the next block of the page and runs alongside it; when that one has
//                   finished it gets SIGTERM and must exit 0
export interface Directives {
  skip?: string
  setup?: true
  withSetup?: true
  file?: string
  files: string[]
  needsServer?: true
  needsEtcd?: true
  background?: true
}

export interface Block {
  page: string // path from the repository root
  line: number // line of the opening fence, from 1
  language: Language
  code: string
  directives: Directives
}

export interface Page {
  page: string
  blocks: Block[]
  problems: string[] // annotations that name nothing or that attach to no block
}

const annotation = /^<!--\s*sample:(.*)-->$/
const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/

export function readPages(root: URL): Page[] {
  const docs = readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`)
  return ['README.md', ...docs].map((page) => parsePage(page, readFileSync(new URL(page, root), 'utf8')))
}

export function parsePage(page: string, text: string): Page {
  const lines = text.split('\n')
  const blocks: Block[] = []
  const problems: string[] = []
  let pending: { line: number; text: string } | undefined
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim()
    const note = annotation.exec(trimmed)
    if (note !== null) {
      if (pending !== undefined) problems.push(`${page}:${pending.line}: annotation without a block`)
      pending = { line: i + 1, text: note[1]! }
      continue
    }
    const open = fence.exec(lines[i]!)
    if (open === null) {
      if (trimmed !== '' && pending !== undefined) {
        problems.push(`${page}:${pending.line}: annotation not right above a block`)
        pending = undefined
      }
      continue
    }
    const [, indent, marks, info] = open as unknown as [string, string, string, string]
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const closing = lines[j]!.trimStart()
      if (closing.startsWith(marks) && closing.slice(marks.length).trim() === '') break
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart())
    }
    const language = languages[info.toLowerCase()]
    if (language !== undefined) {
      const directives = pending === undefined ? { files: [] } : parseDirectives(pending.text)
      if (typeof directives === 'string') problems.push(`${page}:${pending!.line}: ${directives}`)
      else blocks.push({ page, line: i + 1, language, code: `${body.join('\n')}\n`, directives })
    } else if (pending !== undefined) {
      problems.push(`${page}:${pending.line}: annotation on a block that is not run (${info || 'untagged'})`)
    }
    pending = undefined
    i = j
  }
  if (pending !== undefined) problems.push(`${page}:${pending.line}: annotation without a block`)
  return { page, blocks, problems }
}

// The directives of one annotation, or what is wrong with it.
export function parseDirectives(text: string): Directives | string {
  const directives: Directives = { files: [] }
  for (const item of splitTopLevel(text)) {
    const skip = /^skip\s*\((.+)\)$/s.exec(item)
    const file = /^file\s+(\S+)$/.exec(item)
    const files = /^files\s+(.+)$/.exec(item)
    if (skip !== null) directives.skip = skip[1]!.trim()
    else if (item === 'setup') directives.setup = true
    else if (item === 'with setup') directives.withSetup = true
    else if (item === 'needs-server') directives.needsServer = true
    else if (item === 'needs-etcd') directives.needsEtcd = true
    else if (item === 'background') directives.background = true
    else if (file !== null) directives.file = file[1]!
    else if (files !== null) directives.files.push(...files[1]!.split(/\s+/))
    else return `unknown sample directive '${item}'`
  }
  if (directives.setup === true && directives.withSetup === true) return 'a setup cannot run inside another'
  if (directives.file !== undefined && (directives.setup === true || directives.withSetup === true))
    return 'a file block is not a setup'
  return directives
}

function splitTopLevel(text: string): string[] {
  const items: string[] = []
  let depth = 0
  let current = ''
  for (const char of text) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (char === ',' && depth === 0) {
      items.push(current)
      current = ''
    } else current += char
  }
  items.push(current)
  return items.map((item) => item.trim()).filter((item) => item !== '')
}

// A `with setup` block inside its setup: the block replaces the setup's `// …` line, indented like
// it, and its static imports move to the top, since imports cannot stand inside a block.
export function composeWithSetup(block: Block, setup: Block): string {
  const setupLines = setup.code.trimEnd().split('\n')
  const at = setupLines.findIndex((line) => line.trim().startsWith('// …'))
  if (at < 0) throw new Error(`${setup.page}:${setup.line}: a setup needs a line '// …' where samples go`)
  const indent = /^\s*/.exec(setupLines[at]!)![0]
  const { imports, rest } = splitImports(block.code)
  const have = new Set(setupLines.map((line) => line.trim()))
  return [
    `// ${block.page}:${block.line}, inside the setup of ${setup.page}:${setup.line}`,
    ...imports.filter((line) => !have.has(line.trim())),
    ...setupLines.slice(0, at),
    ...rest.map((line) => (line === '' ? line : indent + line)),
    ...setupLines.slice(at + 1),
    '',
  ].join('\n')
}

// The block's static import statements (also those spanning several lines), and everything else.
export function splitImports(code: string): { imports: string[]; rest: string[] } {
  const imports: string[] = []
  const rest: string[] = []
  let inImport = false
  for (const line of code.trimEnd().split('\n')) {
    if (!inImport && !/^import[\s{*'"]/.test(line)) {
      rest.push(line)
      continue
    }
    imports.push(line)
    inImport = !/(^import\s+['"]|\bfrom\s+['"][^'"]+['"];?\s*(\/\/.*)?$)/.test(line)
  }
  return { imports, rest }
}
