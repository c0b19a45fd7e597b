// How the demo narrates: aligned, coloured when stdout is a terminal.
import { isRichTerminal, type Colors } from './colors.ts'
import type { Io } from './report.ts'

const BAR_WIDTH = 20

export class DemoLog {
  readonly #io: Io
  readonly #c: Colors
  readonly #tasks: number
  readonly #inPlace: boolean
  #quarter = 0
  // A progress line redrawn in place is on screen, not yet ended.
  #open = false

  constructor(io: Io, colors: Colors, tasks: number) {
    this.#io = io
    this.#c = colors
    this.#tasks = tasks
    this.#inPlace = isRichTerminal(io.stdout)
  }

  line(text = ''): void {
    this.#io.stdout.write(`${text}\n`)
  }

  // Ends a progress line left open (the demo interrupted as the bar is drawn), so that what is said
  // next, on stderr, starts a line of its own.
  end(): void {
    if (this.#open) this.#io.stdout.write('\n')
    this.#open = false
  }

  title(text: string): void {
    this.line(this.#c.bold(text))
  }

  // One participant: a label, where it runs, what it does.
  actor(label: string, where: string, what: string): void {
    this.line(`  ${this.#c.cyan(label.padEnd(9))} ${where}  ${this.#c.dim(what)}`)
  }

  note(text: string): void {
    this.line(`  ${this.#c.yellow('▶')} ${text}`)
  }

  // A task finished, with the overall progress so far.
  task(revision: number, key: string, by: string, finished: number): void {
    const bar = this.#bar(finished, this.#tasks)
    const count = `${String(finished).padStart(String(this.#tasks).length)}/${this.#tasks}`
    const rev = this.#c.dim(`rev ${String(revision).padStart(4)}`)
    const who = by.endsWith('1') ? this.#c.blue(by.padEnd(8)) : this.#c.magenta(by.padEnd(8))
    this.line(`  ${rev}  ${key}  ${this.#c.green('✔')} ${who}  ${bar} ${count}`)
  }

  // A progress bar: redrawn in place on a terminal, a line per quarter otherwise.
  progress(done: number, total: number, unit: string): void {
    const quarter = total === 0 ? 4 : Math.floor((done / total) * 4)
    const count = ` ${done}/${total} ${unit}`
    if (this.#inPlace) {
      // Narrower than the terminal: a line that wraps is not redrawn in place, but piles up.
      const room = (this.#io.stdout.columns ?? Infinity) - 1 - 2 - count.length
      this.#open = done !== total
      this.#io.stdout.write(`\r  ${this.#bar(done, total, room)}${count}${this.#open ? '' : '\n'}`)
    } else if (quarter > this.#quarter) {
      this.#quarter = quarter
      this.line(`  ${this.#bar(done, total)}${count}`)
    }
  }

  #bar(done: number, total: number, room = BAR_WIDTH): string {
    const width = Math.max(0, Math.min(BAR_WIDTH, room))
    const filled = total === 0 ? width : Math.round((done / total) * width)
    return this.#c.green('█'.repeat(filled)) + this.#c.dim('░'.repeat(width - filled))
  }

  watcher(text: string): void {
    this.line(`  ${this.#c.yellow('◆ watcher')}  ${text}`)
  }

  check(ok: boolean, text: string): void {
    this.line(`  ${ok ? this.#c.green('✔') : this.#c.red('✘')} ${text}`)
  }
}
