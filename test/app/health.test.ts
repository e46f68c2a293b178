import t from 'tap'
import { build } from '../helper.js'

t.test('GET /health/live answers 200 {status: ok} without a key', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.same(res.json(), { status: 'ok' })
  t.ok(res.headers['x-request-id'], 'carries a request id')
})

t.test('GET /health/ready answers 200 with the database ok while the database answers', async (t) => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/health/ready' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', database: 'ok' })
})

t.test('with the database closed, /health/ready is a prompt 503 problem with Retry-After and /health/live stays 200', async (t) => {
  const { app, database } = await build(t)
  await database.close()

  const started = Date.now()
  const res = await app.inject({ method: 'GET', url: '/health/ready', headers: { 'x-request-id': 'ready-down' } })
  const elapsed = Date.now() - started
  t.equal(res.statusCode, 503, 'not a 500')
  t.ok(elapsed < 3000, `answers within the readiness timeout, not a hang (${elapsed} ms)`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/)
  const body = res.json()
  t.equal(body.code, 'service_unavailable')
  t.equal(body.type, '/problems/service_unavailable')
  t.equal(body.status, 503)
  t.equal(body.instance, '/health/ready')
  t.equal(body.request_id, 'ready-down')
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
  t.notMatch(res.body, /closed|pool|PGlite|ECONNREFUSED|end/i, 'the driver\'s message is not disclosed')
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After is a positive number of seconds (${String(res.headers['retry-after'])})`)

  const live = await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200, 'liveness does not depend on the database, so the process is not restarted for it')
})
