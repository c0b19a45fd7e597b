// Where zstate's own files are. Once built, zstate is a bundle whose shared code sits in chunks, so
// a module's import.meta.url says nothing about where its neighbours are: files are found from the
// package root instead, which the package's own name resolves to (a self-reference, through the
// "./package.json" export), from dist/ and from source alike.
const ROOT = new URL('.', import.meta.resolve('zstate/package.json'))

// Whether zstate runs from its TypeScript sources (through tsx) rather than from dist/.
export const fromSource = import.meta.url.endsWith('.ts')

const LIB = new URL(fromSource ? 'lib/' : 'dist/lib/', ROOT)

// The package's package.json.
export const packageJsonUrl = new URL('package.json', ROOT)

// A file or directory under lib/ (under dist/lib/ once built), e.g. 'dashboard/public/'.
export function libFile(path: string): URL {
  return new URL(path, LIB)
}

// An entry module by its path under lib/ without extension, e.g. 'process/bootstrap': the `.ts`
// source from source, the built `.js` otherwise.
export function libEntry(path: string): URL {
  return libFile(`${path}${fromSource ? '.ts' : '.js'}`)
}
