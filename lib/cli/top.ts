// `zstate top`: the server, its clients and every context's processes, refreshed every second until
// q or Ctrl-C; `--once` prints one frame, `--json` frames as JSON lines.
import { serverStats } from '../client/server-stats.ts'
import { processTable } from '../process/table.ts'
import type { RunOptions } from './args.ts'
import { colorsFor, isRichTerminal } from './colors.ts'
import { openClient, withClient, type CliClient } from './connection.ts'
import { EXIT_OK } from './report.ts'
import type { Io } from './report.ts'
import { onTermination, unlessAborted } from './signals.ts'
import { renderFrame, type TopFrame } from './top-render.ts'

const REFRESH_MS = 1000
// Alternate screen and hidden cursor while live; both restored on the way out.
const ENTER = '\u001b[?1049h\u001b[?25l'
const LEAVE = '\u001b[?25h\u001b[?1049l'
const HOME = '\u001b[H\u001b[2J'

export async function top(options: RunOptions, io: Io): Promise<number> {
  if (options.once === true) {
    return withClient(options, 'top', io, [], async (client) => {
      print(await frameOf(client), options, io, false)
      return EXIT_OK
    })
  }
  const termination = onTermination(true)
  const quit = new AbortController()
  const signal = AbortSignal.any([termination.signal, quit.signal])
  const keys = quitKeys(() => quit.abort())
  const live = options.json !== true && isRichTerminal(io.stdout)
  try {
    // It reads no key: no replica, so it joins a store of millions of keys at once.
    const client = await unlessAborted(openClient(options, 'top', io, { reads: [] }), signal)
    if (client === undefined) return EXIT_OK
    if (live) io.stdout.write(ENTER)
    try {
      while (!signal.aborted) {
        try {
          print(await frameOf(client), options, io, live)
        } catch (error) {
          io.stderr.write(`zstate: ${(error as Error).message}\n`)
        }
        await unlessAborted(new Promise((resolve) => setTimeout(resolve, REFRESH_MS).unref()), signal)
      }
    } finally {
      if (live) io.stdout.write(LEAVE)
      await client.close()
    }
    return EXIT_OK
  } finally {
    keys.dispose()
    termination.dispose()
  }
}

async function frameOf(client: CliClient): Promise<TopFrame> {
  const [info, table, stats] = await Promise.all([client.server(), processTable(client), serverStats(client)])
  return {
    ...table,
    time: new Date().toISOString(),
    address: client.address,
    server: { ...table.server, version: info.version, epoch: info.epoch },
    etcd: stats.etcd ?? null,
  }
}

function print(frame: TopFrame, options: RunOptions, io: Io, live: boolean): void {
  if (options.json === true) return void io.stdout.write(`${JSON.stringify(frame)}\n`)
  const footer = live ? 'q or Ctrl-C quits' : options.once === true ? '' : 'Ctrl-C quits'
  const text = renderFrame(frame, colorsFor(io.stdout), footer)
  io.stdout.write(live ? HOME + text : options.once === true ? text : `${text}\n`)
}

// q (or Ctrl-C, which raw mode delivers as a key) on a terminal's stdin.
function quitKeys(quit: () => void): { dispose(): void } {
  const stdin = process.stdin
  if (stdin.isTTY !== true) return { dispose() {} }
  const onData = (data: Buffer): void => {
    const key = data.toString('utf8')
    if (key === 'q' || key === 'Q' || key === '\u0003') quit()
  }
  stdin.setRawMode(true)
  stdin.on('data', onData)
  stdin.resume()
  return {
    dispose() {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
    },
  }
}
