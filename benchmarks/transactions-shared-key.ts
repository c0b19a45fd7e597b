import { incrementScenario } from './support/increments.ts'
import { runScenario } from './support/scenario.ts'

// (f) Four processes × 2,000 increments of one shared key: state.atomic against Redis WATCH/MULTI/EXEC
// (goal ≥ 1×), state.increment and state.run against Redis INCR (goal ≥ 1×), exact totals checked.
runScenario(import.meta.url, () => incrementScenario('shared'))
