import t from 'tap'
import { sql } from 'drizzle-orm'
import { query } from '../../src/db/client.js'
import { bearer, build } from '../helper.js'
import { makeCity, makeKey } from '../factories.js'
import { getIncident, postBatch, report, uniqueId } from '../routes/v1/incidents/fixtures.js'

// A key that may write records but not read them is judged on what it sent alone: whether a record is stored
// under the external_id it names, and what that record holds, never changes its answer. What it sends that
// conflicts with what is stored wins, and nothing it was told is accepted is lost.

const { app, database } = await build(t)
const db = database.db

type Res = { statusCode: number, json: () => any }
const answer = (res: Res): unknown => ({ status: res.statusCode, items: res.json().items?.map((i: { outcome: string, id: unknown, problems: unknown[] }) => ({ outcome: i.outcome, id: i.id, problems: i.problems })) })

/** The answers to a probe sent under the stored record's external_id and under a fresh one: they must be equal. */
async function probe (send: (externalId: string) => Promise<Res>, stored: string): Promise<[unknown, unknown]> {
  return [answer(await send(stored)), answer(await send(uniqueId('fresh')))]
}

t.test('an incidents:write key without read is answered alike whether the report it names is stored or not', async (t) => {
  const city = await makeCity(db)
  const reader = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:read_personal'])
  const writer = await makeKey(db, city.id, ['incidents:write'])
  const stored = report({ location: { location_type: '58' }, online: { is_online: true, platform: 'forum' } })
  t.equal((await postBatch(app, reader.key, [stored])).json().items[0].outcome, 'created')
  const id = stored.external_id as string
  const full = (externalId: string, change: Record<string, unknown> = {}): Record<string, unknown> => ({ ...report(), external_id: externalId, ...change })

  for (const dryRun of ['?dry_run=true', '']) {
    const [met, fresh] = await probe(async (e) => await postBatch(app, writer.key, [{ ...full(e), occurred_on: undefined }], dryRun), id)
    t.same(met, fresh, `a partial item is refused alike, stored or not${dryRun}`)
    t.equal((fresh as any).items[0].outcome, 'rejected', 'an item that could not stand alone is refused')
  }
  const [lone, loneFresh] = await probe(async (e) => await postBatch(app, writer.key, [{ ...full(e), location: { location_type: '57', latitude: 41.05 } }], '?dry_run=true'), id)
  t.same(lone, loneFresh, 'a lone latitude is refused alike: the stored longitude is not tested against it')

  // Valid alone, it conflicts with the stored record: the stored place cannot be probed by the answer.
  const [online, onlineFresh] = await probe(async (e) => await postBatch(app, writer.key, [full(e, { online: { is_online: false } })], '?dry_run=true'), id)
  t.same(online, onlineFresh, 'a report that did not happen online is answered alike whatever the stored platform')

  const sent = full(id, { summary: 'Flyers found again at the library', online: { is_online: false } })
  const written = await postBatch(app, writer.key, [sent])
  t.equal(written.json().items[0].outcome, 'accepted')
  const [{ id: incidentId }] = await query<{ id: string }>(db, sql`SELECT id FROM incidents WHERE city_id = ${city.id} AND external_id = ${id}`) as [{ id: string }]
  const read = (await getIncident(app, reader.key, incidentId)).json()
  t.equal(read.summary, 'Flyers found again at the library', 'what it was told is accepted is stored')
  t.same([read.online?.is_online, read.online?.platform ?? null, read.location?.location_type], [false, null, '57'], 'what it sent wins over the stored facts it conflicts with')
})

t.test('a stakeholders:write key without read is answered alike whatever the stored seat in the leadership group', async (t) => {
  const city = await makeCity(db)
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read'])
  const writer = await makeKey(db, city.id, ['stakeholders:write'])
  const send = async (key: string, item: unknown, query = ''): Promise<Res> =>
    await app.inject({ method: 'POST', url: `/v1/stakeholders/batch${query}`, headers: bearer(key), payload: [item] as never })
  const externalId = uniqueId('council')
  const stored = { external_id: externalId, kind: 'organization', name: 'Interfaith Council', category: 'faith_community', leadership_group: { role: 'member', joined_on: '2023-05-01' } }
  t.equal((await send(steward.key, stored)).json().items[0].outcome, 'created')
  for (const leftOn of ['2023-01-01', '2024-01-01']) {
    const [met, fresh] = await probe(async (e) => await send(writer.key, { external_id: e, kind: 'organization', name: 'Interfaith Council', category: 'faith_community', leadership_group: { left_on: leftOn } }, '?dry_run=true'), externalId)
    t.same(met, fresh, `a seat's left_on ${leftOn} is answered alike: the stored joined_on is not bisected`)
  }
  const [reference, referenceFresh] = await probe(async (e) => await send(writer.key, { external_id: e, kind: 'person', name: 'Amira Haddad', category: 'community_organization' }, '?dry_run=true'), externalId)
  t.same(reference, referenceFresh, 'a person under a stored organisation\'s external_id is answered alike')
})

t.test('a key without stakeholders:read may not name stakeholders by external_id, whether they exist or not', async (t) => {
  const city = await makeCity(db)
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read'])
  const writer = await makeKey(db, city.id, ['stakeholders:write'])
  const existing = uniqueId('ngo')
  const created = await app.inject({ method: 'POST', url: '/v1/stakeholders', headers: bearer(steward.key), payload: { external_id: existing, kind: 'organization', name: 'Youth Outreach', category: 'community_organization' } })
  t.equal(created.statusCode, 201, created.body)
  const [tie, tieFresh] = await probe(async (e) => await app.inject({
    method: 'POST',
    url: '/v1/stakeholder-relationships/batch?dry_run=true',
    headers: bearer(writer.key),
    payload: [{ external_id: uniqueId('tie'), from_external_id: e, to_external_id: e, type: 'collaboration' }] as never
  }), existing)
  t.same(tie, tieFresh, 'a tie naming a stored stakeholder is answered as one naming none')
  t.equal((tie as any).status, 403, 'the directory\'s imports read what they meet: refused for the key\'s scopes')
  const named = await app.inject({ method: 'POST', url: '/v1/stakeholder-relationships', headers: bearer(writer.key), payload: { from_external_id: existing, to_external_id: existing, type: 'collaboration' } })
  t.equal(named.statusCode, 403, 'one tie, sent alone, too')
  t.match(named.json().errors[0], { path: '/body/from_external_id', message: /needs stakeholders:read/ })
})

t.test('a plan\'s tree import answers what is stored, so it needs plans:read', async (t) => {
  const city = await makeCity(db)
  const planner = await makeKey(db, city.id, ['plans:write', 'plans:read'])
  const writer = await makeKey(db, city.id, ['plans:write'])
  const plan = await app.inject({ method: 'POST', url: '/v1/action-plans', headers: bearer(planner.key), payload: { title: 'Prevention plan 2027', period_start: '2027-01-01', period_end: '2027-12-31', currency: 'USD' } })
  t.equal(plan.statusCode, 201, plan.body)
  const tree = { goals: [{ external_id: 'g1', title: 'Safer public spaces', objectives: [{ external_id: 'o1', title: 'Fewer incidents', actions: [{ external_id: 'a1', title: 'Train staff', owner_external_id: 'nobody' }] }] }] }
  const blind = await app.inject({ method: 'POST', url: `/v1/action-plans/${plan.json().id}/import?dry_run=true`, headers: bearer(writer.key), payload: tree })
  t.equal(blind.statusCode, 403, 'a key without plans:read is refused for what it holds, before anything is looked up')
  const named = await app.inject({ method: 'POST', url: `/v1/action-plans/${plan.json().id}/import?dry_run=true`, headers: bearer(planner.key), payload: tree })
  t.equal(named.statusCode, 200, named.body)
  t.match(named.json().actions[0].problems[0], { path: '/body/goals/0/objectives/0/actions/0/owner_external_id', message: /needs stakeholders:read/ })
})
