// Starting a worker thread on a module that may be TypeScript: tsx's hooks from --import do not reach
// threads on Node 20, so the thread registers them itself (workerData.tsx: the URLs of tsx's esm/api
// and cjs/api) before it imports workerData.entry.
export const THREAD_BOOT = `
const { workerData } = require('node:worker_threads');
// Eval code gets these as globals (as node -e does); a process child's code has none of them.
for (const name of ['require', 'module', 'exports', '__filename', '__dirname']) delete globalThis[name];
(async () => {
  for (const api of workerData.tsx ?? []) (await import(api)).register();
  await import(workerData.entry);
})().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\\n');
  process.exit(1);
});
`
