// startServer as a child's `import 'zstate'` has it (lib/process/child-main.ts): a child's bundle
// leaves the server's code out, and starting a server inside a child is rare, so it comes from the
// package's main export, loaded then. From source that is the very module the child runs already.
import { importModule } from '../import-module.ts'
import { libEntry } from '../package-files.ts'
import type { Server, ServerOptions } from '../server/types.ts'

export async function startServer(options?: ServerOptions): Promise<Server> {
  const zstate = (await importModule(libEntry('index').href)) as typeof import('../index.ts')
  return zstate.startServer(options)
}
