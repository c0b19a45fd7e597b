import { runs } from './config.ts'

// Runs every contender once per run, rotating who goes first so that none always meets the warmest
// (or coldest) machine; a missing contender (a skipped baseline) yields no numbers.
export async function interleaved<K extends string, T>(
  contenders: Record<K, (() => Promise<T>) | undefined>,
): Promise<Record<K, T[]>> {
  const names = Object.keys(contenders) as K[]
  const results = Object.fromEntries(names.map((name) => [name, [] as T[]])) as Record<K, T[]>
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length] as K
      const measure = contenders[name]
      if (measure !== undefined) results[name].push(await measure())
    }
  }
  return results
}
