import t from 'tap'
import { sql } from 'drizzle-orm'
import { query } from '../../src/db/client.js'
import { bearer, build } from '../helper.js'
import { makeCity, makeKey } from '../factories.js'
import { auditActions, personalReport, postBatch } from '../routes/v1/incidents/fixtures.js'
import { createOpenSurvey, postResponseBatch, response, survey, uniqueId } from '../routes/v1/surveys/fixtures.js'

// An import outcome compares what is sent only with what the same key sent before: another key re-sending a
// record with guessed personal fields, right or wrong, is answered alike, so the outcome reveals nothing stored.

const { app, database } = await build(t)
const db = database.db

const versionOf = async (cityId: string, externalId: string): Promise<number | undefined> =>
  (await query<{ version: number }>(db, sql`SELECT version FROM incidents WHERE city_id = ${cityId} AND external_id = ${externalId}`))[0]?.version

const withoutMarker = ({ marker: _marker, ...rest }: Record<string, unknown>): Record<string, unknown> => rest
const outcomes = (res: { json: () => any }): unknown[] => res.json().items.map((i: { outcome: string, problems: unknown[] }) => ({ outcome: i.outcome, problems: i.problems }))

t.test('a report re-sent by another key is answered the same whether its guessed reporter is right or wrong', async (t) => {
  const city = await makeCity(db)
  const partner = await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-a'] })
  const other = await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-a'] })
  const sent = withoutMarker(personalReport())
  t.equal((await postBatch(app, partner.key, [sent])).json().items[0].outcome, 'created')

  const right = await postBatch(app, other.key, [sent], '?dry_run=true')
  const wrong = await postBatch(app, other.key, [{ ...sent, reporter: { ...(sent.reporter as object), phone: '+1 203 555 0188' } }], '?dry_run=true')
  t.same(outcomes(right), outcomes(wrong), 'the right guess and the wrong one get the same outcome')
  t.equal(right.json().items[0].outcome, 'updated', 'both are written as a change, never found unchanged')

  const again = await postBatch(app, partner.key, [sent])
  t.equal(again.json().items[0].outcome, 'unchanged', 'the key that sent it finds its own re-import unchanged')
})

t.test('a partner\'s nightly re-import stays unchanged, and another key\'s re-send of the same record is written as a change', async (t) => {
  const city = await makeCity(db)
  const partner = await makeKey(db, city.id, ['incidents:write'], { sources: ['ngo-a'] })
  const other = await makeKey(db, city.id, ['incidents:write'], { sources: ['ngo-a'] })
  const sent = withoutMarker(personalReport())
  await postBatch(app, partner.key, [sent])
  const version = await versionOf(city.id, sent.external_id as string)
  for (let night = 0; night < 2; night++) t.equal((await postBatch(app, partner.key, [sent])).json().items[0].outcome, 'accepted', 'a key that cannot read is told accepted')
  t.equal(await versionOf(city.id, sent.external_id as string), version, 'and its nightly re-run writes nothing: no new version')
  t.equal((await postBatch(app, other.key, [sent])).json().items[0].outcome, 'accepted', 'another key learns nothing: its re-send is written as a change')
  t.equal((await postBatch(app, partner.key, [sent])).json().items[0].outcome, 'accepted', 'so the partner\'s next run writes its own version again')
})

t.test('a stakeholder re-sent by a key without the contact scope is answered the same whatever contact details it guesses', async (t) => {
  const city = await makeCity(db)
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read', 'stakeholders:read_contact'])
  const admin = await makeKey(db, city.id, ['admin'])
  const person = { external_id: uniqueId('person'), kind: 'person', name: 'Maria Lopez', category: 'city_staff', contact: { email: 'maria@city.example.gov', phone: '+1 203 555 0101' } }
  const send = async (key: string, item: unknown, query = ''): Promise<{ json: () => any }> =>
    await app.inject({ method: 'POST', url: `/v1/stakeholders/batch${query}`, headers: bearer(key), payload: [item] as never })
  t.equal((await send(steward.key, person)).json().items[0].outcome, 'created')
  const right = await send(admin.key, person, '?dry_run=true')
  const wrong = await send(admin.key, { ...person, contact: { email: 'maria@city.example.gov', phone: '+1 203 555 0102' } }, '?dry_run=true')
  t.same(outcomes(right), outcomes(wrong), 'the admin key learns nothing of the contact details it may not read')
  t.equal((await send(steward.key, person)).json().items[0].outcome, 'unchanged', 'the steward\'s own re-send is unchanged')
})

t.test('a paper form re-sent by another key is answered the same whatever its answers, and its form id is that key\'s own', async (t) => {
  const city = await makeCity(db)
  const coordinator = await makeKey(db, city.id, ['surveys:write', 'surveys:read', 'survey-responses:write'])
  const clerk = await makeKey(db, city.id, ['survey-responses:write', 'surveys:read'])
  const other = await makeKey(db, city.id, ['survey-responses:write', 'surveys:read'])
  const open = await createOpenSurvey(app, coordinator.key, survey())
  const form: Record<string, any> = { ...response(), external_id: uniqueId('form'), filled_on: '2024-03-01' }
  t.equal((await postResponseBatch(app, clerk.key, open.id, [form])).json().items[0].outcome, 'created')

  const right = await postResponseBatch(app, other.key, open.id, [form], '?dry_run=true')
  const wrong = await postResponseBatch(app, other.key, open.id, [{ ...form, answers: { ...form.answers, safe: true } }], '?dry_run=true')
  t.same(outcomes(right), outcomes(wrong), 'the right answers and wrong ones get the same outcome')
  t.equal(right.json().items[0].outcome, 'created', 'and a key that never sent the form learns nothing of it: its form id is its own')

  t.equal((await postResponseBatch(app, clerk.key, open.id, [form])).json().items[0].outcome, 'unchanged', 'the clerk\'s own re-run changes nothing')
  const changed = await postResponseBatch(app, clerk.key, open.id, [{ ...form, answers: { ...form.answers, safe: true } }])
  t.equal(changed.json().items[0].outcome, 'rejected', 'and the clerk\'s own form with other answers is refused, as before')
})

t.test('the audit event of a re-import names the public fields it changed, never a personal one, and tells only that personal fields were sent', async (t) => {
  const city = await makeCity(db)
  const partner = await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-a'] })
  const sent = withoutMarker(personalReport())
  const id = (await postBatch(app, partner.key, [sent])).json().items[0].id as string
  const changed = { ...sent, summary: 'Flyers were posted again.', location: { ...(sent.location as object), neighborhood: 'West Side' } }
  t.equal((await postBatch(app, partner.key, [changed])).json().items[0].outcome, 'updated')
  const guessed = { ...changed, reporter: { ...(sent.reporter as object), phone: '+1 203 555 0188' } }
  t.equal((await postBatch(app, partner.key, [guessed])).json().items[0].outcome, 'updated')

  const events = (await auditActions(db, city.id, id)).filter((e) => e.action === 'incident.updated')
  t.equal(events.length, 2)
  t.same(events[0]?.details?.fields, ['location.neighborhood', 'summary'].sort(), 'the two public fields that changed, and only them')
  t.equal(events[0]?.details?.personal_fields_sent, true, 'the report carried personal fields')
  t.same(events[1]?.details?.fields, [], 'a changed phone number is not named')
  t.same(events[0]?.details?.personal_fields_sent, events[1]?.details?.personal_fields_sent, 'and whether a personal field changed is not told')
  t.notOk(JSON.stringify(events).includes('reporter'), 'no personal field is named anywhere in the trail')
})

t.test('a rotated key carries its comparisons over: the partner\'s re-import under the new secret stays unchanged, the old secret is refused', async (t) => {
  const city = await makeCity(db)
  const admin = await makeKey(db, city.id, ['admin'])
  const partner = await makeKey(db, city.id, ['incidents:write'], { sources: ['ngo-a'] })
  const sent = withoutMarker(personalReport())
  t.equal((await postBatch(app, partner.key, [sent])).json().items[0].outcome, 'accepted')
  const rotated = await app.inject({ method: 'POST', url: `/v1/api-keys/${partner.id}/rotate`, headers: bearer(admin.key) })
  t.equal(rotated.statusCode, 200)
  t.equal(rotated.json().id, partner.id, 'the same key')
  t.same(rotated.json().scopes, ['incidents:write'])
  t.not(rotated.json().key, partner.key, 'with a new secret')
  const version = await versionOf(city.id, sent.external_id as string)
  t.equal((await postBatch(app, rotated.json().key, [sent])).json().items[0].outcome, 'accepted')
  t.equal(await versionOf(city.id, sent.external_id as string), version, 'its own re-import under the new secret still writes nothing')
  t.equal((await postBatch(app, partner.key, [sent])).statusCode, 401, 'the old secret no longer works')
  const events = await app.inject({ method: 'GET', url: `/v1/audit-events?object_id=${partner.id}`, headers: bearer(admin.key) })
  t.ok(events.json().data.some((e: { action: string }) => e.action === 'api_key.rotated'), 'the rotation is audited')
})

t.test('a key that cannot read incidents is told the same whether its keyed item met a stored record or not: accepted, with no id', async (t) => {
  const city = await makeCity(db)
  const partner = await makeKey(db, city.id, ['incidents:write', 'incidents:read'], { sources: ['ngo-b'] })
  const importer = await makeKey(db, city.id, ['incidents:write'])
  const stored = withoutMarker(personalReport({ source: 'ngo-b' }))
  await postBatch(app, partner.key, [stored])
  const fresh = { ...stored, external_id: 'never-sent-by-anyone' }
  for (const query of ['?dry_run=true', '?dry_run=true&atomic=true']) {
    const met = await postBatch(app, importer.key, [stored], query)
    const none = await postBatch(app, importer.key, [fresh], query)
    t.same(met.json().summary, none.json().summary, `the summaries are alike (${query})`)
    t.same(met.json().items.map((i: object) => ({ ...i, external_id: null })), none.json().items.map((i: object) => ({ ...i, external_id: null })), `and so are the items (${query})`)
    t.equal(met.json().items[0].outcome, 'accepted')
    t.equal(met.json().items[0].id, null, 'no id of the record it met')
  }
  t.equal((await postBatch(app, importer.key, [fresh])).json().items[0].outcome, 'accepted', 'written, and told accepted')
  const version = await versionOf(city.id, fresh.external_id)
  t.equal((await postBatch(app, importer.key, [fresh])).json().items[0].outcome, 'accepted', 'its own re-run is accepted too')
  t.equal(await versionOf(city.id, fresh.external_id), version, 'and writes nothing')
})

t.test('a key that cannot read is answered alike whether another key wrote its record since', async (t) => {
  const city = await makeCity(db)
  const importer = await makeKey(db, city.id, ['incidents:write'])
  const other = await makeKey(db, city.id, ['incidents:write', 'incidents:read'])
  const sent = withoutMarker(personalReport())
  await postBatch(app, importer.key, [sent])
  const before = await postBatch(app, importer.key, [sent], '?dry_run=true')
  t.equal((await postBatch(app, other.key, [{ ...sent, summary: 'Corrected by the city' }])).json().items[0].outcome, 'updated')
  const after = await postBatch(app, importer.key, [sent], '?dry_run=true')
  t.same(outcomes(after), outcomes(before), 'the other key\'s write does not show')
  t.same(after.json().summary, before.json().summary)
})
