import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey, makeProgram, makeStakeholder } from '../../../factories.js'
import { auditActions, createIncident, etagOf, getIncident, patchIncident, personalReport, report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['incidents:write', 'incidents:read', 'incidents:case', 'stakeholders:read'] as const

/** Moves an incident to `status` (with extra fields), asserting 200 and the new status; returns the answer. */
async function move (t: Test, application: FastifyInstance, key: string, id: string, status: string, extra: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await patchIncident(application, key, id, await etagOf(application, key, id), { status, ...extra })
  t.equal(res.statusCode, 200, `→ ${status}: 200 (${res.statusCode === 200 ? '' : res.body})`)
  t.equal(res.json().status, status)
  return res.json()
}

t.test('a new incident is received, and every allowed step works: received → under_review → verified → referred → closed', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  t.equal(incident.status, 'received')
  await move(t, app, city.key, incident.id, 'under_review')
  await move(t, app, city.key, incident.id, 'verified')
  const referral = { kind: 'program', id: (await makeProgram(db, city.id)).id, referred_on: '2024-03-05' }
  const referred = await move(t, app, city.key, incident.id, 'referred', { referrals: [referral] })
  t.same(referred.referrals, [referral])
  const closed = await move(t, app, city.key, incident.id, 'closed')
  t.same(closed.referrals, [referral], 'closing keeps the referrals')
})

t.test('verified → closed directly is allowed', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  await move(t, app, city.key, incident.id, 'under_review')
  await move(t, app, city.key, incident.id, 'verified')
  await move(t, app, city.key, incident.id, 'closed')
})

t.test('referred needs at least one referral: without one it is a 400 on /body/referrals and the status stays', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  await move(t, app, city.key, incident.id, 'under_review')
  await move(t, app, city.key, incident.id, 'verified')
  const res = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { status: 'referred' })
  t.equal(res.statusCode, 400)
  t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/referrals'])
  t.equal((await getIncident(app, city.key, incident.id)).json().status, 'verified')
})

t.test('under_review → unfounded → closed', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  await move(t, app, city.key, incident.id, 'under_review')
  await move(t, app, city.key, incident.id, 'unfounded')
  await move(t, app, city.key, incident.id, 'closed')
})

t.test('under_review → duplicate (naming another incident of the city) → closed; both records stay readable', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const original = await createIncident(app, city.key, report({ source: 'ngo-a' }))
  const repeat = await createIncident(app, city.key, report({ source: 'ngo-b' }))
  await move(t, app, city.key, repeat.id, 'under_review')

  const missing = await patchIncident(app, city.key, repeat.id, await etagOf(app, city.key, repeat.id), { status: 'duplicate' })
  t.equal(missing.statusCode, 400, 'duplicate without duplicate_of')
  t.same(missing.json().errors, [{ path: '/body/duplicate_of', message: 'is required when status is duplicate' }])

  const marked = await move(t, app, city.key, repeat.id, 'duplicate', { duplicate_of: original.id })
  t.equal(marked.duplicate_of, original.id)
  const both = [await getIncident(app, city.key, original.id), await getIncident(app, city.key, repeat.id)]
  t.same(both.map((r) => r.statusCode), [200, 200], 'marking a duplicate deletes neither')
  t.equal(both[0]?.json().status, 'received', 'the original is untouched')
  t.equal(both[1]?.json().duplicate_of, original.id)

  const closed = await move(t, app, city.key, repeat.id, 'closed')
  t.equal(closed.resolution, 'duplicate', 'closing keeps how review ended')
  t.equal(closed.duplicate_of, original.id, 'closing keeps the link to the original')
  t.equal((await getIncident(app, city.key, original.id)).statusCode, 200)
})

t.test('resolution records how review ended and survives referral and closing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  t.equal(incident.resolution, null, 'a new report has no resolution')
  await move(t, app, city.key, incident.id, 'under_review')
  t.equal((await move(t, app, city.key, incident.id, 'verified')).resolution, 'verified')
  const referral = { kind: 'program', id: (await makeProgram(db, city.id)).id, referred_on: '2024-03-05' }
  t.equal((await move(t, app, city.key, incident.id, 'referred', { referrals: [referral] })).resolution, 'verified')
  t.equal((await move(t, app, city.key, incident.id, 'closed')).resolution, 'verified')

  const unfounded = await createIncident(app, city.key)
  await move(t, app, city.key, unfounded.id, 'under_review')
  await move(t, app, city.key, unfounded.id, 'unfounded')
  t.equal((await move(t, app, city.key, unfounded.id, 'closed')).resolution, 'unfounded')
})

t.test('duplicate_of must be another incident of the same city: itself, another city\'s or an unknown id is a 400', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const other = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  const foreign = await createIncident(app, other.key)
  await move(t, app, city.key, incident.id, 'under_review')
  const etag = await etagOf(app, city.key, incident.id)
  for (const [what, target] of [['itself', incident.id], ['another city\'s incident', foreign.id], ['an unknown id', randomUUID()]] as const) {
    const res = await patchIncident(app, city.key, incident.id, etag, { status: 'duplicate', duplicate_of: target })
    t.equal(res.statusCode, 400, what)
    t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/duplicate_of'], what)
  }
  t.equal(await etagOf(app, city.key, incident.id), etag, 'no refused change was written')
  const notDuplicate = await patchIncident(app, city.key, incident.id, etag, { status: 'verified', duplicate_of: foreign.id })
  t.equal(notDuplicate.statusCode, 400, 'duplicate_of is only for status duplicate')
})

t.test('each illegal transition is a 422 whose detail names the allowed next statuses, and changes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  const tries: Array<[string, string, RegExp]> = [
    ['verified', 'received', /allowed: under_review/],
    ['closed', 'received', /allowed: under_review/],
    ['referred', 'received', /allowed: under_review/],
    ['duplicate', 'received', /allowed: under_review/]
  ]
  for (const [to, from, allowed] of tries) {
    const etag = await etagOf(app, city.key, incident.id)
    const res = await patchIncident(app, city.key, incident.id, etag, { status: to, ...(to === 'duplicate' ? { duplicate_of: randomUUID() } : {}) })
    t.equal(res.statusCode, 422, `${from} → ${to}`)
    t.equal(res.json().code, 'unprocessable')
    t.match(res.json().detail, allowed, `${from} → ${to} names the allowed ones`)
    t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/status'])
    t.equal(await etagOf(app, city.key, incident.id), etag, 'nothing changed')
  }

  await move(t, app, city.key, incident.id, 'under_review')
  const back = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { status: 'received' })
  t.equal(back.statusCode, 422, 'under_review → received')
  t.match(back.json().detail, /allowed: verified, unfounded, duplicate/)
  const skip = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { status: 'closed' })
  t.equal(skip.statusCode, 422, 'under_review → closed')

  await move(t, app, city.key, incident.id, 'unfounded')
  const revive = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { status: 'verified' })
  t.equal(revive.statusCode, 422, 'unfounded → verified')
  t.match(revive.json().detail, /allowed: closed/)

  await move(t, app, city.key, incident.id, 'closed')
  for (const to of ['received', 'under_review', 'verified']) {
    const res = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { status: to })
    t.equal(res.statusCode, 422, `closed → ${to}`)
    t.match(res.json().detail, /none \(it is closed\)/)
  }
  t.equal((await getIncident(app, city.key, incident.id)).json().status, 'closed')
})

t.test('PATCH without If-Match is 428; a stale If-Match is 412 and changes nothing; a write changes the ETag', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key, report({ summary: 'First summary.' }))
  const etag = await etagOf(app, city.key, incident.id)

  const missing = await patchIncident(app, city.key, incident.id, undefined, { summary: 'No precondition.' })
  t.equal(missing.statusCode, 428)
  t.equal(missing.json().code, 'precondition_required')

  const ok = await patchIncident(app, city.key, incident.id, etag, { summary: 'Second summary.' })
  t.equal(ok.statusCode, 200)
  t.not(ok.headers.etag, etag, 'the ETag changed')
  t.equal(ok.json().version, incident.version + 1)
  t.equal(ok.headers.etag, await etagOf(app, city.key, incident.id), 'the PATCH answer carries the current ETag')

  const stale = await patchIncident(app, city.key, incident.id, etag, { summary: 'Lost update.', status: 'under_review' })
  t.equal(stale.statusCode, 412)
  t.equal(stale.json().code, 'precondition_failed')
  const after = (await getIncident(app, city.key, incident.id)).json()
  t.equal(after.summary, 'Second summary.', 'the stale write changed nothing')
  t.equal(after.status, 'received')
  t.equal(after.version, ok.json().version)

  const garbage = await patchIncident(app, city.key, incident.id, '"not-a-tag"', { summary: 'x' })
  t.equal(garbage.statusCode, 412, 'a tag of another object is stale too')
})

t.test('PATCH of one nested field (location.neighborhood) keeps the other location fields and the personal data', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER, 'incidents:read_personal'])
  const sent = personalReport()
  const incident = await createIncident(app, city.key, sent)
  const before = (await getIncident(app, city.key, incident.id)).json()
  const res = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { location: { neighborhood: 'West Side' } })
  t.equal(res.statusCode, 200)
  const after = (await getIncident(app, city.key, incident.id)).json()
  t.equal(after.location.neighborhood, 'West Side')
  t.same({ ...after.location, neighborhood: before.location.neighborhood }, before.location, 'location_type, census tract, address and exact coordinates are kept')
  t.equal(after.location.address, `${sent.marker} Elm Street`)
  t.equal(after.location.latitude, 41.053921)
  t.equal(after.narrative, before.narrative)
  t.same(after.reporter, before.reporter)
  t.equal(after.personal_data, 'held')
  t.equal(after.summary, before.summary)
  t.same(after.bias_motivations, before.bias_motivations)
})

t.test('a status change writes an incident.status_changed audit event with from and to', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  await move(t, app, city.key, incident.id, 'under_review')
  await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), { summary: 'Edited.' })
  const events = await auditActions(db, city.id, incident.id)
  const changed = events.filter((e) => e.action === 'incident.status_changed')
  t.equal(changed.length, 1)
  t.match(changed[0]?.details, { from: 'received', to: 'under_review' })
  t.ok(events.some((e) => e.action === 'incident.updated'), 'an edit without a status change is incident.updated')

  const admin = await makeKey(db, city.id, ['admin'])
  const listed = await app.inject({ method: 'GET', url: `/v1/audit-events?object_type=incident&object_id=${incident.id}&action=incident.status_changed`, headers: { authorization: `Bearer ${admin.key}` } })
  t.equal(listed.statusCode, 200)
  t.equal(listed.json().data.length, 1)
  t.match(listed.json().data[0].details, { from: 'received', to: 'under_review' })
})

t.test('referrals are real references: a program or stakeholder of another city, or none, is a 422 naming the item, and nothing changes', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const other = await makeCityWithKey(db, [...WRITER])
  const incident = await createIncident(app, city.key)
  await move(t, app, city.key, incident.id, 'under_review')
  await move(t, app, city.key, incident.id, 'verified')
  const program = await makeProgram(db, city.id)
  const stakeholder = await makeStakeholder(db, city.id)
  const foreignProgram = await makeProgram(db, other.id)
  const refused = await patchIncident(app, city.key, incident.id, await etagOf(app, city.key, incident.id), {
    status: 'referred',
    referrals: [
      { kind: 'program', id: program.id, referred_on: '2024-03-05' },
      { kind: 'program', id: foreignProgram.id, referred_on: '2024-03-05' },
      { kind: 'stakeholder', id: program.id, referred_on: '2024-03-05' }
    ]
  })
  t.equal(refused.statusCode, 422)
  t.same(refused.json().errors, [
    { path: '/body/referrals/1/id', message: 'is not a program of this city' },
    { path: '/body/referrals/2/id', message: 'is not a stakeholder of this city' }
  ], 'each item that points nowhere in this city is named')
  t.equal((await etagOf(app, city.key, incident.id)).endsWith('-3"'), true, 'the incident did not change')
  const referrals = [{ kind: 'stakeholder', id: stakeholder.id, referred_on: '2024-03-06' }, { kind: 'program', id: program.id, referred_on: '2024-03-05' }]
  const referred = await move(t, app, city.key, incident.id, 'referred', { referrals })
  t.same(referred.referrals, referrals, 'kept in the order given')
  t.same((await app.inject({ method: 'GET', url: '/v1/incidents?status=referred', headers: bearer(city.key) })).json().data[0].referrals, referrals, 'and listed with the incident')
})
