import { incrementScenario } from './support/increments.ts'
import { runScenario } from './support/scenario.ts'

// (f) Four processes × 2,000 increments of one shared key: state.atomic against Redis WATCH/MULTI/EXEC
// (goal ≥ 1.2×, issue 12); all in flight, state.increment against pipelined Redis INCR (goal ≥ 1×) and state.run
// (goal ≥ 0.8×); awaited, both against awaited INCR. Exact totals checked.
runScenario(import.meta.url, () => incrementScenario('shared'))
