// import() of a module by URL or package name, for zstate's code that a child process's bootstrap runs
// with V8's code cache (lib/process/bootstrap.ts): on Node 20, a script compiled from a code cache loses
// what import() needs ("A dynamic import callback was not specified"), so that bootstrap hands its own
// import() over, on a global that only it sets. Everywhere else this is plain import().
const PROVIDED = Symbol.for('zstate.importModule')

type Importer = (specifier: string) => Promise<unknown>

export function importModule(specifier: string): Promise<unknown> {
  const provided = (globalThis as { [PROVIDED]?: Importer })[PROVIDED]
  return provided !== undefined ? provided(specifier) : import(specifier)
}

// For that bootstrap: the import() its module runs with.
export function provideImporter(importer: Importer): void {
  ;(globalThis as { [PROVIDED]?: Importer })[PROVIDED] = importer
}
