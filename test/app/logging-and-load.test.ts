import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildApp, loggerOptions } from '../../src/app.js'
import { bearer, freshDatabase, testConfig } from '../helper.js'
import { makeCityWithKey, makeKey } from '../factories.js'

/** The production app with its production logger options, writing into a string. */
async function appWithCapturedLog (t: Test, env: Record<string, string> = {}) {
  const { database } = await freshDatabase(t)
  const config = testConfig({ LOG_LEVEL: 'debug', ...env })
  let log = ''
  const stream = new Writable({ write (chunk, _encoding, done) { log += String(chunk); done() } })
  const app = await buildApp({ config, database }, { ...loggerOptions(config), stream })
  t.teardown(async () => { await app.close() })
  await app.ready()
  return { app, database, log: () => log }
}

t.test('log lines carry the request id and never a key, a secret or a reporter\'s personal data', async (t) => {
  const { app, database, log } = await appWithCapturedLog(t)
  const city = await makeCityWithKey(database.db)
  const writer = await makeKey(database.db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  const created = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: { ...bearer(city.key), 'idempotency-key': 'log-test-1' }, payload: { name: 'portal', scopes: ['incidents:read'] } })
  t.equal(created.statusCode, 201)
  const secret = created.json().key as string
  const report = await app.inject({
    method: 'POST',
    url: '/v1/incidents',
    headers: bearer(writer.key),
    payload: {
      source: 'resident-portal',
      incident_type: 'bias_incident',
      bias_motivations: ['21'],
      occurred_on: '2024-05-01',
      narrative: 'narrative-marker-5521',
      reporter: { name: 'reporter-marker-7731', email: 'marker-9911@example.org' }
    }
  })
  t.equal(report.statusCode, 201)
  // A refused request is logged too, with its problem code.
  const refused = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer('coh_not-a-real-key-marker-4411') })
  t.equal(refused.statusCode, 401)

  const text = log()
  t.match(text, `"request_id":"${created.headers['x-request-id'] as string}"`, 'log lines name the request id')
  for (const needle of [city.key, writer.key, secret, 'narrative-marker-5521', 'reporter-marker-7731', 'marker-9911', 'marker-4411']) {
    t.notOk(text.includes(needle), `the log does not contain ${needle.slice(0, 16)}…`)
  }
})

t.test('under event-loop pressure, requests are shed with a 503 problem and Retry-After', async (t) => {
  const { app, database } = await appWithCapturedLog(t, { MAX_EVENT_LOOP_DELAY_MS: '20', LOG_LEVEL: 'silent' })
  const city = await makeCityWithKey(database.db)
  // Keep the event loop busy in 40 ms slices for longer than one sampling interval, as a flood of heavy work would.
  const until = Date.now() + 1500
  while (Date.now() < until) {
    const slice = Date.now() + 40
    while (Date.now() < slice) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.equal(res.json().code, 'service_unavailable')
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when to come back')
})

t.test('personal and secret members are withheld wherever they sit in a logged object, and the logged object is left as it was', async (t) => {
  const { app, log } = await appWithCapturedLog(t)
  const logged = { incident: 'abc', reporter: { name: 'Mei withheld-1' }, change: { location: { address: '12 withheld-2 St', latitude: 41.1 } }, items: [{ email: 'withheld-3@example.org' }], headers: { authorization: 'Bearer withheld-4' } }
  const copy = structuredClone(logged)
  app.log.info(logged, 'a line with personal data in it')
  t.same(logged, copy, 'the caller\'s object is not changed')
  const line = log().split('\n').find((l) => l.includes('a line with personal data in it')) ?? ''
  for (const needle of ['withheld-1', 'withheld-2', 'withheld-3', 'withheld-4', '41.1']) t.notOk(line.includes(needle), `${needle} is not in the line`)
  t.match(line, /"incident":"abc"/, 'ids stay')
  t.match(line, /"reporter":"\[redacted\]"/, 'the member is marked as withheld')
})
