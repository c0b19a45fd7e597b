#!/usr/bin/env node
// The `zstate` executable: run the command line, flush, exit with its code.
import { cli } from './cli.ts'
import { outputClosed } from './signals.ts'

// A reader that went away (`zstate watch | head -1`) is not an error worth a message: a streaming
// command then ends as on SIGINT (its session closed), anything else at once. Output that could not be
// written (a full disk: `zstate keygen > key` would leave an empty key file) is one. A reader of
// stderr that went away (a logger that died) ends nothing: its messages are lost, not the command's
// work, its cleanup or its exit code.
let readerGone = false
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (readerGone) return // what the ending command still writes goes nowhere
  if (error.code === 'EPIPE') {
    readerGone = outputClosed()
    if (!readerGone) process.exit(0)
    return
  }
  process.stderr.write(`zstate: cannot write the output: ${error.message}\n`)
  process.exit(1)
})
process.stderr.on('error', () => {})

// Warnings (a torn log tail cut, a repair) as one line in the command's own voice, instead of Node's
// "(node:PID) [CODE] Warning: …" and its hint about --trace-warnings. Node's own printer is one of
// the process's 'warning' listeners.
process.removeAllListeners('warning')
process.on('warning', (warning) => {
  process.stderr.write(`zstate: warning: ${warning.message.replace(/^zstate: /, '')}\n`)
})

const code = await cli(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
})
// Exit explicitly once the output is flushed, so no stray handle can keep the command alive.
await Promise.all([flush(process.stdout), flush(process.stderr)])
process.exit(code)

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()))
}
