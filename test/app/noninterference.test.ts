import t from 'tap'
import { loadSpec, operationsOf, run, summary } from '../noninterference/harness.js'
import { buildWorlds, KEY_KINDS } from '../noninterference/worlds.js'

/**
 * The fast subset of the non-interference run (`npm run test:noninterference` is the full one): every
 * operation with every kind of key, a request or two each, and every oracle, sent to two worlds that differ
 * only in what the key may not read. NI_SEED replays a failure with the seed it printed.
 */
t.setTimeout(600_000)
const seed = process.env.NI_SEED !== undefined ? Number(process.env.NI_SEED) : 20_250_101
t.comment(`non-interference seed ${seed} (NI_SEED=${seed} replays it)`)
const worlds = await buildWorlds()
t.teardown(async () => { await worlds.close() })
const report = await run(worlds, { seed, perOperation: 1, perForbidden: 1, sweep: 0 })
for (const line of summary(report, operationsOf(loadSpec()).length, KEY_KINDS.length)) t.comment(line)

t.test('every operation was tried with every kind of key', async (t) => {
  const ops = operationsOf(loadSpec())
  const missing = ops.flatMap((op) => KEY_KINDS.filter((k) => !report.tried.has(`${op.id}\u0000${k.name}`)).map((k) => `${op.id} × ${k.name}`))
  t.same(missing, [], 'no operation × key kind left out')
})

t.test('what a key receives does not depend on what it may not read', async (t) => {
  for (const [pair, { count, first }] of report.byPair) {
    t.fail(`${pair}: ${count} answer(s) differed, first at ${first.path}: L ${first.left} | R ${first.right}`, { request: first.request, status: first.status })
  }
  t.equal(report.differed, 0, 'no answer differed between the worlds')
})

t.test('no answer carries another city\'s data, a personal field or another source\'s record', async (t) => {
  for (const leak of report.leaks) t.fail(`${leak.what} in ${leak.op} × ${leak.kind} (world ${leak.side}): ${leak.found}`, { request: leak.request })
  t.same(report.leakCounts, {}, 'nothing leaked')
})

t.test('no answer is a 5xx, and every refusal is a problem document', async (t) => {
  for (const e of report.serverErrors) t.fail(`${e.status} from ${e.op} × ${e.kind} (world ${e.side})`, { request: e.request, body: e.body })
  t.equal(report.serverErrors.length, 0, 'no 5xx')
  t.same(report.notProblem, [], 'every non-2xx is application/problem+json')
})
