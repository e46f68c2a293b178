import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { TAXONOMY_VERSION } from '../../../../src/taxonomies/index.js'
import { build, expectProblem } from '../../../helper.js'
import { makeCity, makeKey, makeProgram } from '../../../factories.js'
import { auditActions, etagOf, getIncident, patchIncident, personalReport, postBatch, postIncident, report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

async function keys (): Promise<{ cityId: string, partner: string, city: string, personal: string }> {
  const city = await makeCity(db)
  return {
    cityId: city.id,
    partner: (await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-a'] })).key,
    city: (await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case', 'stakeholders:read'])).key,
    personal: (await makeKey(db, city.id, ['incidents:read', 'incidents:read_personal'])).key
  }
}

/** Walks an incident through review to referred, as the city's case worker does. */
async function refer (cityId: string, key: string, id: string): Promise<Record<string, unknown>> {
  const referral = { kind: 'program', id: (await makeProgram(db, cityId)).id, referred_on: '2024-03-05' }
  for (const step of [{ status: 'under_review' }, { status: 'verified' }, { status: 'referred', referrals: [referral] }]) {
    const res = await patchIncident(app, key, id, await etagOf(app, key, id), step)
    if (res.statusCode !== 200) throw new Error(`${JSON.stringify(step)}: ${res.statusCode} ${res.body}`)
  }
  return referral
}

t.test('a partner re-sending a report without its personal fields keeps what the city holds: personal data, status, referrals', async (t) => {
  const k = await keys()
  const sent = personalReport()
  const { marker: _marker, ...first } = sent
  const imported = await postBatch(app, k.partner, [first])
  const id = imported.json().items[0].id as string
  const referral = await refer(k.cityId, k.city, id)

  const { narrative: _n, reporter: _r, ...withoutPersonal } = first
  const location = { ...(first.location as Record<string, unknown>) }
  delete location.address; delete location.latitude; delete location.longitude
  const again = await postBatch(app, k.partner, [{ ...withoutPersonal, location, summary: 'Flyers were posted again on Monday.' }])
  t.equal(again.json().items[0].outcome, 'updated')

  const stored = (await getIncident(app, k.personal, id)).json()
  t.equal(stored.summary, 'Flyers were posted again on Monday.', 'the changed field is updated')
  t.equal(stored.narrative, first.narrative, 'the narrative it omitted is kept')
  t.same(stored.reporter, first.reporter, 'the reporter it omitted is kept')
  t.equal(stored.location.address, (first.location as { address: string }).address, 'the address it omitted is kept')
  t.equal(stored.location.coordinates_precision, 'exact', 'and so are the exact coordinates')
  t.equal(stored.personal_data, 'held')
  t.equal(stored.status, 'referred', 'the case status the city set stays')
  t.equal(stored.resolution, 'verified')
  t.same(stored.referrals, [referral], 'the referrals stay')
})

t.test('an explicit null in an import clears that one field, and the audit trail names it', async (t) => {
  const k = await keys()
  const { marker: _marker, ...first } = personalReport()
  const id = (await postBatch(app, k.partner, [first])).json().items[0].id as string
  const res = await postBatch(app, k.partner, [{ ...first, narrative: null, location: { address: null } }])
  t.equal(res.json().items[0].outcome, 'updated')
  const stored = (await getIncident(app, k.personal, id)).json()
  t.equal(stored.narrative, null, 'the narrative is cleared')
  t.equal(stored.location.address, null, 'the address is cleared')
  t.same(stored.reporter, first.reporter, 'the reporter stays')
  t.equal(stored.location.coordinates_precision, 'exact', 'the coordinates stay')
  t.equal(stored.location.neighborhood, 'Downtown', 'the neighbourhood stays')
  const update = (await auditActions(db, k.cityId, id)).find((a) => a.action === 'incident.updated')
  t.ok(Array.isArray(update?.details?.fields), 'the update is audited with the public field names it changed')
  t.notOk((update?.details?.fields as string[]).some((f) => f === 'narrative' || f.startsWith('location.address')), 'no personal field is named')
  t.equal(update?.details?.personal_fields_sent, true, 'only that personal fields were sent')
  t.notOk(JSON.stringify(update).includes('Elm Street'), 'no value is in the audit trail')
})

t.test('a single POST with an external_id is an import: sent again it merges into the stored incident', async (t) => {
  const k = await keys()
  const { marker: _marker, ...first } = personalReport()
  const created = await postIncident(app, k.partner, first)
  t.equal(created.statusCode, 201)
  const { narrative: _n, ...rest } = first
  const again = await postIncident(app, k.partner, { ...rest, summary: 'Updated by the partner.' })
  t.equal(again.statusCode, 200, 'an update, not a second incident')
  t.equal(again.json().id, created.json().id)
  const stored = (await getIncident(app, k.personal, created.json().id)).json()
  t.equal(stored.narrative, first.narrative, 'the narrative it omitted is kept')
  t.equal(stored.summary, 'Updated by the partner.')
})

t.test('POST and batch bodies no longer accept referrals: the city writes them with PATCH only', async (t) => {
  const k = await keys()
  const referrals = [{ kind: 'program', id: randomUUID(), referred_on: '2024-03-05' }]
  const single = await postIncident(app, k.partner, report({ referrals }))
  expectProblem(t, single, 400, 'validation_failed', 'POST with referrals')
  t.same(single.json().errors, [{ path: '/body/referrals', message: 'is not a known field' }])
  const batch = await postBatch(app, k.partner, [report({ referrals }), report()])
  t.same(batch.json().items.map((i: { outcome: string }) => i.outcome), ['rejected', 'created'])
  t.same(batch.json().items[0].problems, [{ path: '/body/0/referrals', message: 'is not a known field' }])
})

t.test('taxonomy_version changes only when the codes are checked again, not on every write', async (t) => {
  const k = await keys()
  const first = report()
  const id = (await postBatch(app, k.partner, [first])).json().items[0].id as string
  // As if the incident had been coded under an earlier version of the code lists.
  await query(db, sql`UPDATE incidents SET taxonomy_version = 'fbi-2012' WHERE id = ${id}`)
  const summaryOnly = await patchIncident(app, k.city, id, await etagOf(app, k.city, id), { summary: 'Corrected wording.' })
  t.equal(summaryOnly.json().taxonomy_version, 'fbi-2012', 'a PATCH without codes keeps the version the codes were checked against')
  const recoded = await patchIncident(app, k.city, id, await etagOf(app, k.city, id), { bias_motivations: ['14', '21'] })
  t.equal(recoded.json().taxonomy_version, TAXONOMY_VERSION, 'codes sent again are checked against the version in force')
  await query(db, sql`UPDATE incidents SET taxonomy_version = 'fbi-2012' WHERE id = ${id}`)
  const reimported = await postBatch(app, k.partner, [{ ...first, summary: 'Re-sent with its codes.' }])
  t.equal(reimported.json().items[0].outcome, 'updated')
  t.equal((await getIncident(app, k.city, id)).json().taxonomy_version, TAXONOMY_VERSION, 'an import carries its codes, so they are checked again')
})

t.test('an unchanged re-import changes nothing: same version, no audit event, the city\'s corrections stay', async (t) => {
  const k = await keys()
  const first = report()
  const id = (await postBatch(app, k.partner, [first])).json().items[0].id as string
  const corrected = await patchIncident(app, k.city, id, await etagOf(app, k.city, id), { summary: 'The city\'s correction.' })
  t.equal(corrected.statusCode, 200)
  const again = await postBatch(app, k.partner, [first])
  t.equal(again.json().items[0].outcome, 'unchanged')
  const stored = (await getIncident(app, k.city, id)).json()
  t.equal(stored.summary, 'The city\'s correction.')
  t.equal(stored.version, corrected.json().version)
})
