import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCity, makeKey, makeProgram } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

async function keys (): Promise<{ cityId: string, writer: string, reader: string, coordinator: string, steward: string }> {
  const city = await makeCity(db)
  return {
    cityId: city.id,
    writer: (await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read', 'incidents:read', 'plans:read'])).key,
    reader: (await makeKey(db, city.id, ['stakeholders:read'])).key,
    coordinator: (await makeKey(db, city.id, ['stakeholders:read', 'stakeholders:read_contact'])).key,
    steward: (await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read_contact'])).key
  }
}

const post = async (key: string, body: Record<string, unknown>) => await app.inject({ method: 'POST', url: '/v1/stakeholders', headers: bearer(key), payload: body })
const batch = async (key: string, items: unknown[]) => await app.inject({ method: 'POST', url: '/v1/stakeholders/batch', headers: bearer(key), payload: items as never })
const get = async (key: string, id: string) => await app.inject({ method: 'GET', url: `/v1/stakeholders/${id}`, headers: bearer(key) })
const patch = async (key: string, id: string, body: Record<string, unknown>) => {
  const etag = (await get(key, id)).headers.etag as string
  return await app.inject({ method: 'PATCH', url: `/v1/stakeholders/${id}`, headers: { ...bearer(key), 'if-match': etag, 'content-type': 'application/merge-patch+json' }, payload: JSON.stringify(body) })
}

const chair = (overrides: Record<string, unknown> = {}) => ({
  kind: 'person',
  name: 'Maria Lopez',
  category: 'city_staff',
  title: 'Director of Community Relations',
  portfolio: 'anti-hate',
  languages: ['en', 'es'],
  engagement_level: 'leading',
  leadership_group: { role: 'chair', joined_on: '2024-01-15' },
  contact: { email: 'maria.lopez@city.example.gov', phone: '+1 203 555 0101' },
  tags: ['founding'],
  ...overrides
})

t.test('a stakeholder is created with its derived leg; contact details appear only with stakeholders:read_contact, and that read is audited', async (t) => {
  const k = await keys()
  const created = await post(k.writer, chair())
  t.equal(created.statusCode, 201)
  t.match(created.headers.location, /^\/v1\/stakeholders\//)
  const body = created.json()
  t.equal(body.leg, 'city_staff')
  t.equal(body.personal_data, 'held')
  t.notOk('contact' in body, 'the answer to a write carries no contact details')
  t.same(body.leadership_group, { role: 'chair', joined_on: '2024-01-15', left_on: null, current: true })

  const plain = (await get(k.reader, body.id)).json()
  t.notOk('contact' in plain, 'a reader without the contact scope sees none')
  const shown = (await get(k.coordinator, body.id)).json()
  t.same(shown.contact, { email: 'maria.lopez@city.example.gov', phone: '+1 203 555 0101' })
  const [audit] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM audit_events WHERE city_id = ${k.cityId} AND object_id = ${body.id} AND action = 'stakeholder.personal_data_read'`)
  t.equal(audit?.n, 1, 'one audited read, by the coordinator')
  const [raw] = await query<{ whole: string }>(db, sql`SELECT s::text AS whole FROM stakeholders s WHERE id = ${body.id}`)
  t.notOk(raw?.whole.includes('maria.lopez'), 'the contact details are not stored in the clear')
})

t.test('a coordinator lists the leadership group with contact details, and every revealed id is audited', async (t) => {
  const k = await keys()
  const a = (await post(k.writer, chair())).json()
  const b = (await post(k.writer, chair({ name: 'Officer Dan Smith', category: 'law_enforcement', leadership_group: { role: 'member' }, contact: { email: 'dan@pd.example.gov' } }))).json()
  await post(k.writer, chair({ name: 'Not a member', leadership_group: null, contact: null }))
  const res = await app.inject({ method: 'GET', url: '/v1/stakeholders?leadership_group=true', headers: bearer(k.coordinator) })
  t.equal(res.statusCode, 200)
  t.same(res.json().data.map((s: { id: string }) => s.id).sort(), [a.id, b.id].sort(), 'only current members')
  t.ok(res.json().data.every((s: { contact?: unknown }) => s.contact !== undefined), 'each with its contact details')
  const audited = await query<{ object_id: string }>(db, sql`SELECT object_id FROM audit_events WHERE city_id = ${k.cityId} AND action = 'stakeholder.personal_data_read'`)
  t.same(audited.map((r) => r.object_id).sort(), [a.id, b.id].sort(), 'the ids the list revealed')
  const legs = await app.inject({ method: 'GET', url: '/v1/stakeholders?leg=law_enforcement', headers: bearer(k.reader) })
  t.same(legs.json().data.map((s: { id: string }) => s.id), [b.id], 'filtered by leg')
})

t.test('a spreadsheet imported twice changes nothing; sent again without contact details it keeps them, and null clears one field', async (t) => {
  const k = await keys()
  const rows = [chair({ external_id: 'row-1' }), chair({ external_id: 'row-2', name: 'Rabbi Cohen', category: 'faith_community', leadership_group: null })]
  const first = await batch(k.writer, rows)
  t.same(first.json().summary, { created: 2, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  const again = await batch(k.writer, rows)
  t.same(again.json().summary, { created: 0, updated: 0, unchanged: 2, accepted: 0, rejected: 0 }, 'a re-run adds nothing')
  const id = first.json().items[0].id as string
  const { contact: _contact, ...withoutContact } = rows[0] as Record<string, unknown>
  const changed = await batch(k.writer, [{ ...withoutContact, engagement_level: 'active', portfolio: null }])
  t.equal(changed.json().items[0].outcome, 'updated')
  const stored = (await get(k.coordinator, id)).json()
  t.same(stored.contact, { email: 'maria.lopez@city.example.gov', phone: '+1 203 555 0101' }, 'the contact details it omitted are kept')
  t.equal(stored.portfolio, null, 'the field sent as null is cleared')
  t.equal(stored.engagement_level, 'active')
  t.equal(stored.title, 'Director of Community Relations', 'the rest stays')
})

t.test('engagement and leadership-group changes are kept with their day, for figures of past periods', async (t) => {
  const k = await keys()
  const s = (await post(k.writer, chair({ engagement_level: 'aware', leadership_group: null }))).json()
  await patch(k.writer, s.id, { engagement_level: 'engaged' })
  await patch(k.writer, s.id, { leadership_group: { role: 'member', joined_on: '2024-02-01' } })
  await patch(k.writer, s.id, { leadership_group: { left_on: '2024-06-30' } })
  await patch(k.writer, s.id, { title: 'Deputy Director' })
  const history = await query<{ engagement_level: string, leadership_role: string | null, leadership_left_on: string | null }>(db, sql`SELECT engagement_level, leadership_role, to_char(leadership_left_on, 'YYYY-MM-DD') AS leadership_left_on
    FROM stakeholder_history WHERE city_id = ${k.cityId} AND stakeholder_id = ${s.id} ORDER BY sequence`)
  t.same(history, [
    { engagement_level: 'aware', leadership_role: null, leadership_left_on: null },
    { engagement_level: 'engaged', leadership_role: null, leadership_left_on: null },
    { engagement_level: 'engaged', leadership_role: 'member', leadership_left_on: null },
    { engagement_level: 'engaged', leadership_role: 'member', leadership_left_on: '2024-06-30' }
  ], 'one entry per change of engagement or membership; a title change adds none')
  t.equal((await get(k.reader, s.id)).json().leadership_group.current, false, 'a member who left is no longer current')
})

t.test('a person belongs to an organisation of the same city; anything else is refused, naming the field', async (t) => {
  const k = await keys()
  const other = await keys()
  const org = (await post(k.writer, { kind: 'organization', name: 'Interfaith Council', category: 'faith_community' })).json()
  const person = (await post(k.writer, chair())).json()
  const foreignOrg = (await post(other.writer, { kind: 'organization', name: 'Elsewhere', category: 'media' })).json()
  t.equal((await post(k.writer, chair({ name: 'Member', organization_id: org.id }))).statusCode, 201)
  for (const [what, id] of [['another city\'s organisation', foreignOrg.id], ['a person', person.id]] as const) {
    const res = await post(k.writer, chair({ name: 'Member', organization_id: id }))
    expectProblem(t, res, 422, 'unprocessable', what)
    t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/organization_id'])
  }
  const items = await batch(k.writer, [chair({ external_id: 'ok', organization_id: org.id }), chair({ external_id: 'bad', organization_id: foreignOrg.id })])
  t.same(items.json().items.map((i: { outcome: string }) => i.outcome), ['created', 'rejected'])
  t.same(items.json().items[1].problems, [{ path: '/body/1/organization_id', message: 'is not an organisation stakeholder of this city' }])
})

t.test('a stakeholder others refer to cannot be deleted (409 naming them) but can be archived; one nothing refers to is deleted', async (t) => {
  const k = await keys()
  const provider = (await post(k.writer, { kind: 'organization', name: 'Victim Services', category: 'social_services' })).json()
  await db.execute(sql`UPDATE programs SET provider_id = ${provider.id} WHERE id = ${(await makeProgram(db, k.cityId)).id}`)
  const refused = await app.inject({ method: 'DELETE', url: `/v1/stakeholders/${provider.id as string}`, headers: bearer(k.writer) })
  expectProblem(t, refused, 409, 'conflict', 'a program provider')
  t.match(refused.json().detail, /programs it provides/)
  const archived = await patch(k.writer, provider.id, { active: false })
  t.equal(archived.json().active, false, 'archived instead')
  const lonely = (await post(k.writer, chair())).json()
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/stakeholders/${lonely.id as string}`, headers: bearer(k.writer) })).statusCode, 204)
  t.equal((await get(k.reader, lonely.id)).statusCode, 404)
})

t.test('contact details are erased only with stakeholders:read_contact, for good: a later import cannot bring them back', async (t) => {
  const k = await keys()
  const s = (await batch(k.writer, [chair({ external_id: 'erase-me' })])).json().items[0]
  const refused = await app.inject({ method: 'DELETE', url: `/v1/stakeholders/${s.id as string}/contact`, headers: bearer(k.writer) })
  expectProblem(t, refused, 403, 'forbidden', 'without the contact scope')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/stakeholders/${s.id as string}/contact`, headers: bearer(k.steward) })).statusCode, 204)
  await batch(k.writer, [chair({ external_id: 'erase-me', name: 'Maria L.' })])
  const after = (await get(k.coordinator, s.id)).json()
  t.equal(after.personal_data, 'erased')
  t.equal(after.contact, null, 'the re-import did not bring them back')
  t.equal(after.name, 'Maria L.', 'the rest was updated')
  const refusedPatch = await patch(k.writer, s.id, { contact: { email: 'again@example.org' } })
  expectProblem(t, refusedPatch, 422, 'unprocessable', 'setting erased contact details again')
})

t.test('PATCH needs If-Match (428), refuses a stale one (412), and merges nested objects member by member', async (t) => {
  const k = await keys()
  const s = (await post(k.writer, chair())).json()
  const missing = await app.inject({ method: 'PATCH', url: `/v1/stakeholders/${s.id as string}`, headers: bearer(k.writer), payload: { name: 'x' } })
  expectProblem(t, missing, 428, 'precondition_required', 'no If-Match')
  const etag = (await get(k.writer, s.id)).headers.etag as string
  t.equal((await app.inject({ method: 'PATCH', url: `/v1/stakeholders/${s.id as string}`, headers: { ...bearer(k.writer), 'if-match': etag }, payload: { name: 'First' } })).statusCode, 200)
  const stale = await app.inject({ method: 'PATCH', url: `/v1/stakeholders/${s.id as string}`, headers: { ...bearer(k.writer), 'if-match': etag }, payload: { name: 'Second' } })
  expectProblem(t, stale, 412, 'precondition_failed', 'a stale ETag')
  const merged = await patch(k.writer, s.id, { contact: { phone: null } })
  t.equal(merged.statusCode, 200)
  t.same((await get(k.coordinator, s.id)).json().contact, { email: 'maria.lopez@city.example.gov' }, 'one member of the contact removed, the other kept')
})
