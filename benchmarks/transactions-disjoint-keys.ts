import { incrementScenario } from './support/increments.ts'
import { runScenario } from './support/scenario.ts'

// (f) The same as transactions-shared-key.ts with one key per process: disjoint transactions never
// conflict, so atomic should need no retries at all.
runScenario(import.meta.url, () => incrementScenario('disjoint'))
