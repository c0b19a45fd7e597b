// How the demo narrates: aligned, coloured when stdout is a terminal.
import type { Colors } from './colors.ts'
import type { Io } from './report.ts'

const BAR_WIDTH = 20

export class DemoLog {
  readonly #io: Io
  readonly #c: Colors
  readonly #tasks: number
  #quarter = 0

  constructor(io: Io, colors: Colors, tasks: number) {
    this.#io = io
    this.#c = colors
    this.#tasks = tasks
  }

  line(text = ''): void {
    this.#io.stdout.write(`${text}\n`)
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
    const line = `  ${this.#bar(done, total)} ${done}/${total} ${unit}`
    if (this.#io.stdout.isTTY === true) {
      this.#io.stdout.write(`\r${line}${done === total ? '\n' : ''}`)
    } else if (quarter > this.#quarter) {
      this.#quarter = quarter
      this.line(line)
    }
  }

  #bar(done: number, total: number): string {
    const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH)
    return this.#c.green('█'.repeat(filled)) + this.#c.dim('░'.repeat(BAR_WIDTH - filled))
  }

  watcher(text: string): void {
    this.line(`  ${this.#c.yellow('◆ watcher')}  ${text}`)
  }

  check(ok: boolean, text: string): void {
    this.line(`  ${ok ? this.#c.green('✔') : this.#c.red('✘')} ${text}`)
  }
}
