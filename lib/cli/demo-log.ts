// How the demo narrates: aligned, coloured when stdout is a terminal.
import type { Colors } from './colors.ts'
import type { Io } from './report.ts'

const BAR_WIDTH = 20

export class DemoLog {
  readonly #io: Io
  readonly #c: Colors
  readonly #tasks: number

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
    const filled = Math.round((finished / this.#tasks) * BAR_WIDTH)
    const bar = this.#c.green('█'.repeat(filled)) + this.#c.dim('░'.repeat(BAR_WIDTH - filled))
    const count = `${String(finished).padStart(String(this.#tasks).length)}/${this.#tasks}`
    const rev = this.#c.dim(`rev ${String(revision).padStart(4)}`)
    const who = by.endsWith('1') ? this.#c.blue(by.padEnd(8)) : this.#c.magenta(by.padEnd(8))
    this.line(`  ${rev}  ${key}  ${this.#c.green('✔')} ${who}  ${bar} ${count}`)
  }

  watcher(text: string): void {
    this.line(`  ${this.#c.yellow('◆ watcher')}  ${text}`)
  }

  check(ok: boolean, text: string): void {
    this.line(`  ${ok ? this.#c.green('✔') : this.#c.red('✘')} ${text}`)
  }
}
