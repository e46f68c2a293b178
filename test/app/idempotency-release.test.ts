import { sql } from 'drizzle-orm'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { query } from '../../src/db/client.js'
import { ProblemError } from '../../src/lib/problems.js'
import { bearer, freshDatabase, testConfig } from '../helper.js'
import { makeCityWithKey } from '../factories.js'

/**
 * The production app with test-only POST routes that answer the way resources do: a refusal to be sent again,
 * a batch with items to send again, and an answer stored in a write's transaction that then fails.
 */
const { database } = await freshDatabase(t)
const app = await buildApp({ config: testConfig(), database }, false)
t.teardown(async () => { await app.close() })
const runs = new Map<string, number>()
const run = (name: string): number => { const n = (runs.get(name) ?? 0) + 1; runs.set(name, n); return n }
const secured = { schema: { security: [{ bearer: [] }] } }

app.post('/test/concurrent-write', secured, async (_request, reply) => {
  if (run('concurrent') === 1) throw new ProblemError('conflict', 'Written concurrently; send it again.', { retryable: true })
  return reply.code(201).send({ run: runs.get('concurrent') })
})
app.post('/test/taken', secured, async () => {
  run('taken')
  throw new ProblemError('conflict', 'A value that must be unique is already taken.')
})
app.post('/test/batch-with-retryable-items', secured, async (request) => {
  const n = run('batch')
  if (n === 1) request.retryable = true
  return { run: n, items: n === 1 ? ['rejected: send it again'] : ['created'] }
})
/** A write that records its answer, then fails on its first run: the transaction, and the answer, roll back. */
const answerThen = (name: string, fail: (tx: Parameters<Parameters<typeof app.db.transaction>[0]>[0]) => Promise<unknown>) =>
  app.post(`/test/answer-then-${name}`, secured, async (_request, reply) => {
    const n = run(name)
    const payload = await app.db.transaction(async (tx) => {
      const answer = await reply.code(201).answerWithin(tx, { run: n })
      if (n === 1) await fail(tx)
      return answer
    })
    return reply.send(payload)
  })
answerThen('crash', async () => { throw new Error('the write failed after its answer was recorded') })
answerThen('refuse', async (tx) => await tx.execute(sql`SELECT 1 / 0`))
await app.ready()
const city = await makeCityWithKey(database.db)

const post = async (url: string, key: string) => await app.inject({ method: 'POST', url, headers: { ...bearer(city.key), 'idempotency-key': key }, payload: { same: 'body' } })

async function stored (key: string): Promise<number> {
  const [row] = await query<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM idempotency_keys WHERE city_id = ${city.id} AND key = ${key}`)
  return row?.n ?? -1
}

t.test('a 409 "send it again" releases the Idempotency-Key: the retry runs the request again instead of replaying the refusal', async (t) => {
  const first = await post('/test/concurrent-write', 'retry-409')
  t.equal(first.statusCode, 409)
  t.equal(await stored('retry-409'), 0, 'the refusal is not kept')
  const retry = await post('/test/concurrent-write', 'retry-409')
  t.equal(retry.statusCode, 201, 'the retry ran')
  t.equal(retry.headers['idempotent-replayed'], undefined)
  const replay = await post('/test/concurrent-write', 'retry-409')
  t.equal(replay.headers['idempotent-replayed'], 'true', 'the success is replayed from then on')
  t.equal(runs.get('concurrent'), 2, 'the request ran twice: refused once, then served')
})

t.test('a final refusal is kept and replayed like any answer', async (t) => {
  t.equal((await post('/test/taken', 'final-409')).statusCode, 409)
  const again = await post('/test/taken', 'final-409')
  t.equal(again.statusCode, 409)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(runs.get('taken'), 1, 'it ran once')
})

t.test('a batch answer with items to send again releases the key: the same request sent again is processed again', async (t) => {
  const first = await post('/test/batch-with-retryable-items', 'batch-retry')
  t.equal(first.statusCode, 200)
  t.equal(await stored('batch-retry'), 0)
  const again = await post('/test/batch-with-retryable-items', 'batch-retry')
  t.same(again.json().items, ['created'], 'processed again, not replayed')
})

t.test('an answer recorded inside a write\'s transaction that then fails is not kept: the retry runs again', async (t) => {
  const first = await post('/test/answer-then-crash', 'rolled-back')
  t.equal(first.statusCode, 500, 'the failed write is a 500')
  t.equal(await stored('rolled-back'), 0, 'no answer and no claim is left')
  const retry = await post('/test/answer-then-crash', 'rolled-back')
  t.equal(retry.statusCode, 201)
  t.same(retry.json(), { run: 2 })
  const replay = await post('/test/answer-then-crash', 'rolled-back')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, retry.body, 'the committed answer is the one replayed')
})

t.test('a refusal after an answer was recorded in a rolled-back transaction is kept as the answer, not left in flight', async (t) => {
  const first = await post('/test/answer-then-refuse', 'refused-after')
  t.equal(first.statusCode, 400, 'the database refused the value')
  const again = await post('/test/answer-then-refuse', 'refused-after')
  t.equal(again.statusCode, 400, 'the refusal is replayed, not a 409 "in flight"')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(runs.get('refuse'), 1)
})
