import t from 'tap'
import { bearer, build, expectProblem } from '../helper.js'
import { makeCity, makeKey } from '../factories.js'
import { createIncident, etagOf, getIncident, patchIncident, report } from '../routes/v1/incidents/fixtures.js'
import { createOpenSurvey, postResponse, response, survey } from '../routes/v1/surveys/fixtures.js'

// A resident portal's key is shared by every resident: it submits and is told only what it sent. Partners
// correct their own reports, and the case is the city's case workers'.

const { app, database } = await build(t)
const db = database.db

async function keys (): Promise<Record<'portal' | 'partner' | 'caseWorker' | 'writeOnly' | 'city', string> & { cityId: string }> {
  const city = await makeCity(db)
  return {
    cityId: city.id,
    portal: (await makeKey(db, city.id, ['incidents:report', 'survey-responses:submit', 'surveys:read'], { sources: ['resident-portal'] })).key,
    partner: (await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['resident-portal', 'ngo-a'] })).key,
    caseWorker: (await makeKey(db, city.id, ['incidents:read', 'incidents:case'])).key,
    writeOnly: (await makeKey(db, city.id, ['incidents:write'])).key,
    city: (await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case', 'surveys:write', 'surveys:read'])).key
  }
}

const portalReport = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
  const { external_id: _e, ...body } = report({ source: 'resident-portal', reporter: { email: 'resident@example.org' }, ...overrides })
  return body
}
const submit = async (key: string, body: unknown, headers: Record<string, string> = {}) =>
  await app.inject({ method: 'POST', url: '/v1/incident-reports', headers: { ...bearer(key), ...headers }, payload: body as object })

t.test('a resident\'s report through the shared key is a new incident answered with a receipt, never the report', async (t) => {
  const k = await keys()
  const res = await submit(k.portal, portalReport({ consent: { contact_ok: true } }))
  t.equal(res.statusCode, 201)
  const receipt = res.json()
  t.same(Object.keys(receipt).sort(), ['id', 'next_steps', 'received_at', 'status'], 'only the receipt\'s fields')
  t.equal(receipt.status, 'received')
  t.match(receipt.next_steps, /contact/)
  t.notOk(res.body.includes('resident@example.org'), 'nothing the resident sent is repeated')
  t.equal(res.headers.etag, undefined, 'no ETag: there is nothing to change')
  const stored = await getIncident(app, k.city, receipt.id)
  t.equal(stored.json().source, 'resident-portal', 'the city reads the report')
})

t.test('the shared key sends no external_id, reads nothing and changes nothing, whatever ETag it builds', async (t) => {
  const k = await keys()
  const withId = await submit(k.portal, { ...portalReport(), external_id: 'guess-1' })
  expectProblem(t, withId, 400, 'validation_failed', 'an external_id on a submit-only report')
  const incident = await createIncident(app, k.partner, report({ source: 'resident-portal' }))
  const built = `"${(incident.id as string).slice(-12)}-1"`
  for (const etag of [built, '*']) {
    const res = await patchIncident(app, k.portal, incident.id, etag, { status: 'under_review' })
    expectProblem(t, res, 403, 'forbidden', `PATCH with If-Match ${etag}`)
    expectProblem(t, await patchIncident(app, k.portal, incident.id, etag, { bias_motivations: ['12'] }), 403, 'forbidden', `a new bias code with If-Match ${etag}`)
  }
  expectProblem(t, await getIncident(app, k.portal, incident.id), 403, 'forbidden', 'reading a report')
  const posted = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(k.portal), payload: report({ source: 'resident-portal', external_id: incident.external_id }) })
  expectProblem(t, posted, 403, 'forbidden', 'the import route, which merges by external_id')
  const after = (await getIncident(app, k.city, incident.id)).json()
  t.equal(after.version, 1, 'the incident was never changed')
  t.equal(after.status, 'received')
})

t.test('on the shared key, another resident\'s Idempotency-Key with another body is a report of its own, not a 422 telling it was used', async (t) => {
  const k = await keys()
  const first = await submit(k.portal, portalReport({ summary: 'Graffiti on the mosque wall.' }), { 'idempotency-key': 'form-1' })
  t.equal(first.statusCode, 201)
  const other = await submit(k.portal, portalReport({ summary: 'Slurs shouted at the bus stop.' }), { 'idempotency-key': 'form-1' })
  t.equal(other.statusCode, 201, 'another body under the same Idempotency-Key is a new report')
  t.not(other.json().id, first.json().id)
  t.equal(other.headers['idempotent-replayed'], undefined, 'and nothing is replayed')
  const retry = await submit(k.portal, portalReport({ summary: 'Graffiti on the mosque wall.' }), { 'idempotency-key': 'form-1' })
  t.equal(retry.headers['idempotent-replayed'], 'true', 'the resident\'s own retry is replayed')
  t.equal(retry.json().id, first.json().id)

  const partner = async (body: unknown) => await app.inject({ method: 'POST', url: '/v1/incidents', headers: { ...bearer(k.partner), 'idempotency-key': 'batch-1' }, payload: body as object })
  t.equal((await partner(report({ source: 'ngo-a' }))).statusCode, 201)
  expectProblem(t, await partner(report({ source: 'ngo-a' })), 422, 'idempotency_key_reused', 'a key of one client keeps Stripe\'s semantics')
})

t.test('a survey response through the shared key is a receipt; a form id needs the staff\'s import scope', async (t) => {
  const k = await keys()
  const open = await createOpenSurvey(app, k.city, survey())
  const res = await postResponse(app, k.portal, open.id, response())
  t.equal(res.statusCode, 201)
  t.notOk(res.body.includes('Vi pintadas'), 'the receipt never repeats an answer')
  const withId = await postResponse(app, k.portal, open.id, { ...response(), external_id: 'form-7' })
  expectProblem(t, withId, 403, 'forbidden', 'an external_id from the shared key')
})

t.test('the shared key is told none of the allowance everyone shares: no RateLimit-* figures, a bare 429 with Retry-After', async (t) => {
  const limited = await build(t, { RATE_LIMIT_MAX: '3' })
  const city = await makeCity(limited.database.db)
  const portal = (await makeKey(limited.database.db, city.id, ['incidents:report'], { sources: ['resident-portal'] })).key
  const reader = (await makeKey(limited.database.db, city.id, ['incidents:read'])).key
  const answers = []
  for (let i = 0; i < 4; i++) answers.push(await limited.app.inject({ method: 'POST', url: '/v1/incident-reports', headers: bearer(portal), payload: portalReport() }))
  t.same(answers.map((a) => a.statusCode), [201, 201, 201, 429])
  for (const a of answers) {
    t.same(Object.keys(a.headers).filter((h) => h.startsWith('ratelimit-')), [], `no RateLimit-* header on a ${a.statusCode}`)
  }
  t.ok(Number(answers[3]?.headers['retry-after']) >= 1, 'the 429 says when to retry')
  const read = await limited.app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(reader) })
  t.ok(read.headers['ratelimit-remaining'] !== undefined, 'a key of one client still sees its allowance')
})

t.test('partners correct their own reports but do not run the case; case workers run it without changing the report', async (t) => {
  const k = await keys()
  const incident = await createIncident(app, k.partner, report({ source: 'ngo-a' }))
  const status = await patchIncident(app, k.partner, incident.id, await etagOf(app, k.partner, incident.id), { status: 'under_review' })
  expectProblem(t, status, 403, 'forbidden', 'a partner moving the case')
  t.match(status.json().detail, /incidents:case/)
  const summary = await patchIncident(app, k.partner, incident.id, await etagOf(app, k.partner, incident.id), { summary: 'Flyers were posted again.' })
  t.equal(summary.statusCode, 200, 'a partner corrects its report')
  const review = await patchIncident(app, k.caseWorker, incident.id, await etagOf(app, k.caseWorker, incident.id), { status: 'under_review' })
  t.equal(review.statusCode, 200, 'a case worker moves the case')
  expectProblem(t, await patchIncident(app, k.caseWorker, incident.id, await etagOf(app, k.caseWorker, incident.id), { summary: 'x' }), 403, 'forbidden', 'a case worker changing the report')
})

t.test('a write-only importer changes nothing it cannot read: PATCH needs incidents:read, and so does POST with an external_id', async (t) => {
  const k = await keys()
  const incident = await createIncident(app, k.partner, report({ source: 'ngo-a' }))
  for (const etag of [`"${(incident.id as string).slice(-12)}-1"`, '*']) {
    expectProblem(t, await patchIncident(app, k.writeOnly, incident.id, etag, { summary: 'x' }), 403, 'forbidden', `PATCH with If-Match ${etag}`)
  }
  const merged = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(k.writeOnly), payload: report({ source: 'ngo-a', external_id: incident.external_id, summary: 'x' }) })
  expectProblem(t, merged, 403, 'forbidden', 'a POST that would answer the stored record')
  t.equal((await getIncident(app, k.city, incident.id)).json().version, 1, 'nothing was changed')
  const created = await app.inject({ method: 'POST', url: '/v1/incidents', headers: bearer(k.writeOnly), payload: (({ external_id: _e, ...rest }) => rest)(report()) })
  t.equal(created.statusCode, 201, 'a new report without an external_id is still created')
})

t.test('a shared key is made only with submit scopes and surveys:read: a web form cannot be given a key that reads or runs a case', async (t) => {
  const k = await keys()
  const admin = (await makeKey(db, k.cityId, ['admin'])).key
  const create = async (scopes: string[]) => await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(admin), payload: { name: 'portal', scopes, sources: ['resident-portal'] } })
  for (const extra of ['incidents:write', 'incidents:read', 'incidents:case', 'admin']) {
    const res = await create(['incidents:report', extra])
    expectProblem(t, res, 400, 'validation_failed', `incidents:report with ${extra}`)
    t.equal(res.json().errors[0].path, '/body/scopes')
  }
  t.equal((await create(['incidents:report', 'survey-responses:submit', 'surveys:read'])).statusCode, 201, 'the portal\'s key: submit scopes and reading the forms')
})

t.test('a partner\'s administrator manages only keys within its sources: the city\'s and other partners\' keys answer 404, as missing ones', async (t) => {
  const city = await makeCity(db)
  const cityAdmin = await makeKey(db, city.id, ['admin'])
  const partnerAdmin = await makeKey(db, city.id, ['admin'], { sources: ['ngo-a'] })
  const own = await makeKey(db, city.id, ['incidents:write'], { sources: ['ngo-a'] })
  const other = await makeKey(db, city.id, ['incidents:write'], { sources: ['ngo-b'] })
  const list = await app.inject({ method: 'GET', url: '/v1/api-keys?limit=200', headers: bearer(partnerAdmin.key) })
  t.same(list.json().data.map((k: { id: string }) => k.id).sort(), [partnerAdmin.id, own.id].sort(), 'only keys of its sources')
  const missing = '01900000-0000-7000-8000-000000000000'
  for (const id of [cityAdmin.id, other.id]) {
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/rotate']] as const) {
      const hidden = await app.inject({ method, url: `/v1/api-keys/${id}${suffix}`, headers: bearer(partnerAdmin.key) })
      const absent = await app.inject({ method, url: `/v1/api-keys/${missing}${suffix}`, headers: bearer(partnerAdmin.key) })
      t.equal(hidden.statusCode, 404, `${method} ${suffix} of a key outside its sources`)
      t.same({ ...hidden.json(), instance: null, request_id: null }, { ...absent.json(), instance: null, request_id: null }, 'the same answer as a missing key')
    }
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(cityAdmin.key) })).statusCode, 200, 'the city\'s key still works: it was not revoked')
})
