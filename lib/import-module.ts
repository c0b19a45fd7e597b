// import() of a module by URL or package name, and the evaluation of a function target's source, for
// zstate's code that a child process's bootstrap runs with V8's code cache (lib/process/bootstrap.ts):
// on Node 20, a script compiled from a code cache loses what import() needs ("A dynamic import
// callback was not specified"), and so does code it evaluates (a function target's own
// `await import('node:fs')`). That bootstrap hands over an import() and an eval of its own, on a
// global that only it sets. Everywhere else these are plain import() and indirect eval.
const PROVIDED = Symbol.for('zstate.importModule')

export interface ModuleHost {
  importModule(specifier: string): Promise<unknown>
  // Indirect eval: global scope, and import() as the host's own code has it.
  evaluate(source: string): unknown
}

const provided = (): ModuleHost | undefined => (globalThis as { [PROVIDED]?: ModuleHost })[PROVIDED]

export function importModule(specifier: string): Promise<unknown> {
  const host = provided()
  return host !== undefined ? host.importModule(specifier) : import(specifier)
}

// `source` evaluated in the global scope: what it sees are globals only.
export function evaluateGlobally(source: string): unknown {
  const host = provided()
  return host !== undefined ? host.evaluate(source) : (0, eval)(source)
}

// For that bootstrap: the import() and eval its module runs with.
export function provideModuleHost(host: ModuleHost): void {
  ;(globalThis as { [PROVIDED]?: ModuleHost })[PROVIDED] = host
}
