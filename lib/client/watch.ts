// state.watch(): an async iterator of changes, subscribed when created, optionally replayed from history.
import { ErrorCode, ZStateError, invalidArgument } from '../errors.ts'
import type { Stream } from './observers.ts'
import type { Change } from './replica.ts'
import type { WatchOptions } from './state-types.ts'
import type { Synchronizer } from './sync.ts'
import { QueuedIterator } from '../queued-iterator.ts'
import { bases, changesOf, load, unbased, type History } from './history-changes.ts'
import { checkKnown } from '../known-options.ts'
import { scopedKey, shown } from '../protocol/values.ts'

const WATCH_OPTIONS = ['key', 'prefix', 'fromRevision', 'latest', 'signal']

export type { WatchOptions } from './state-types.ts'

const MAX_UNCONSUMED = 10_000

// `scope` is the state's prefix: it is stripped from the keys the caller sees.
export function watch(
  sync: Synchronizer,
  scope: string,
  options: WatchOptions,
  history: History,
): QueuedIterator<Change> {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('watch: options must be an object')
  checkKnown(options, WATCH_OPTIONS, 'watch')
  const { key, prefix, fromRevision, latest, signal } = options
  // A key follows the rules of every key, as in the state's other calls ('' in a scope: its prefix).
  const whole = key === undefined ? undefined : scopedKey(scope, key)
  if (prefix !== undefined && typeof prefix !== 'string')
    throw invalidArgument('watch: prefix must be a string')
  if (fromRevision !== undefined && !(Number.isSafeInteger(fromRevision) && fromRevision >= 1)) {
    throw invalidArgument(`watch: fromRevision must be an integer ≥ 1, got ${shown(fromRevision)}`)
  }
  if (latest !== undefined && typeof latest !== 'boolean')
    throw invalidArgument(`watch: latest must be a boolean, got ${typeof latest}`)
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalidArgument('watch: signal must be an AbortSignal')
  // A partial replica refuses a key or prefix it does not hold; a whole-state watch sees what it holds.
  const exact = whole === undefined ? undefined : sync.coverage.key(whole, 'watch')
  const start = scope + (prefix ?? '')
  if (exact === undefined) sync.coverage.prefix(start, 'watch')
  const matches = (k: string): boolean => (exact !== undefined ? k === exact : k.startsWith(start))
  const view = (change: Change): Change =>
    scope === '' ? change : { ...change, key: change.key.slice(scope.length) }
  const from = fromRevision ?? 0
  // The iterator, made once the stream is subscribed, held weakly: one dropped unended is collected,
  // and the stream goes with it.
  const held: { iterator?: WeakRef<QueuedIterator<Change>> } = {}
  const stream: Stream = {
    pushAll: (all) => {
      const changes = held.iterator?.deref()
      if (changes === undefined) return
      // A copy only once a change is left out or shown otherwise (a scope's): a whole-state watch
      // takes the revision's changes as they are.
      let taken: Change[] | undefined
      for (let i = 0; i < all.length; i++) {
        const change = all[i]!
        const shown = change.revision >= from && matches(change.key) ? view(change) : undefined
        if (taken === undefined && shown !== change) taken = all.slice(0, i)
        if (taken !== undefined && shown !== undefined) taken.push(shown)
      }
      changes.pushAll(taken ?? all)
    },
    onReset: () =>
      held.iterator
        ?.deref()
        ?.end(
          new ZStateError(
            ErrorCode.COMPACTED,
            'watch: the replica was rebuilt from a snapshot; changes may have been skipped',
          ),
        ),
    end: () => held.iterator?.deref()?.end(),
  }
  // Subscribed before the replica's revision is read: nothing committed after it is missed.
  const unsubscribe = sync.observers.addStream(stream)
  const upTo = sync.replica.revision
  // History holds every key: a partial replica's replay keeps those it holds.
  const wanted = (k: string): boolean => matches(k) && sync.coverage.covers(k)
  const replay = async (): Promise<Change[]> => {
    const commits = await load(history, from, upTo)
    const needed = unbased(commits, wanted)
    const known = needed.size === 0 ? new Map<string, unknown>() : await bases(history, from, needed)
    const replayed: Change[] = []
    for (const change of changesOf(commits, known)) if (wanted(change.key)) replayed.push(view(change))
    return replayed
  }
  const changes = new QueuedIterator<Change>({
    overflow:
      latest === true
        ? { policy: 'keep-latest', key: (change) => change.key }
        : { policy: 'error', limit: MAX_UNCONSUMED, error: overflowError },
    signal,
    onEnd: unsubscribe,
    prelude: fromRevision !== undefined && fromRevision <= upTo ? replay() : undefined,
  })
  held.iterator = changes.heldWeakly(unsubscribe)
  return changes
}

function overflowError(): ZStateError {
  return new ZStateError(ErrorCode.OVERFLOW, `watch: more than ${MAX_UNCONSUMED} changes were not consumed`)
}
