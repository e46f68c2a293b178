/**
 * The full non-interference run: `npm run test:noninterference`. On PostgreSQL with TEST_DATABASE_URL, else
 * on the embedded database. NI_SEED replays a run; NI_PER_OPERATION, NI_OPS and NI_KINDS narrow or widen it.
 * Exits non-zero when any answer differed between the worlds, anything leaked, or anything answered 5xx.
 */
import { KEY_KINDS, buildWorlds } from './worlds.js'
import { loadSpec, operationsOf, run, summary } from './harness.js'

const seed = process.env.NI_SEED !== undefined ? Number(process.env.NI_SEED) : 20_250_101
const perOperation = Number(process.env.NI_PER_OPERATION ?? 24)
const started = Date.now()
console.log(`non-interference: seed ${seed} (set NI_SEED=${seed} to replay)`)
const worlds = await buildWorlds()
console.log(`worlds built on ${worlds.driver} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
let failed = true
try {
  const report = await run(worlds, {
    seed,
    perOperation,
    perForbidden: Math.max(1, Math.round(perOperation / 6)),
    sweep: 0.5,
    ...(process.env.NI_OPS !== undefined ? { onlyOps: new RegExp(process.env.NI_OPS) } : {}),
    ...(process.env.NI_KINDS !== undefined ? { onlyKinds: new RegExp(process.env.NI_KINDS) } : {}),
    log: (line) => { console.log(line) }
  })
  for (const line of summary(report, operationsOf(loadSpec()).length, KEY_KINDS.length)) console.log(line)
  console.log(`total time: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const leaks = Object.values(report.leakCounts).reduce((a, b) => a + b, 0)
  failed = report.differed > 0 || leaks > 0 || report.serverErrors.length > 0 || report.notProblem.length > 0
  if (report.requests < 10_000 && process.env.NI_PER_OPERATION === undefined && process.env.NI_OPS === undefined && process.env.NI_KINDS === undefined) {
    console.log(`fewer than 10,000 requests (${report.requests}): the run is too small to count`)
    failed = true
  }
} finally {
  await worlds.close()
}
process.exit(failed ? 1 : 0)
