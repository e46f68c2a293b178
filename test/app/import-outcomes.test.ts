import t from 'tap'
import { bearer, build } from '../helper.js'
import { makeCity, makeKey } from '../factories.js'
import { personalReport, postBatch } from '../routes/v1/incidents/fixtures.js'
import { createOpenSurvey, postResponseBatch, response, survey, uniqueId } from '../routes/v1/surveys/fixtures.js'

// An import outcome compares what is sent only with what the same key sent before: another key re-sending a
// record with guessed personal fields, right or wrong, is answered alike, so the outcome reveals nothing stored.

const { app, database } = await build(t)
const db = database.db

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
  for (let night = 0; night < 2; night++) t.equal((await postBatch(app, partner.key, [sent])).json().items[0].outcome, 'unchanged')
  t.equal((await postBatch(app, other.key, [sent])).json().items[0].outcome, 'updated', 'another key learns nothing: its re-send is a change')
})

t.test('a stakeholder re-sent by a key without the contact scope is answered the same whatever contact details it guesses', async (t) => {
  const city = await makeCity(db)
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read_contact'])
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
  const clerk = await makeKey(db, city.id, ['survey-responses:write'])
  const other = await makeKey(db, city.id, ['survey-responses:write'])
  const open = await createOpenSurvey(app, coordinator.key, survey())
  const form = { ...response(), external_id: uniqueId('form'), filled_on: '2024-03-01' }
  t.equal((await postResponseBatch(app, clerk.key, open.id, [form])).json().items[0].outcome, 'created')

  const right = await postResponseBatch(app, other.key, open.id, [form], '?dry_run=true')
  const wrong = await postResponseBatch(app, other.key, open.id, [{ ...form, answers: { ...form.answers, safe: true } }], '?dry_run=true')
  t.same(outcomes(right), outcomes(wrong), 'the right answers and wrong ones get the same outcome')
  t.equal(right.json().items[0].outcome, 'created', 'and a key that never sent the form learns nothing of it: its form id is its own')

  t.equal((await postResponseBatch(app, clerk.key, open.id, [form])).json().items[0].outcome, 'unchanged', 'the clerk\'s own re-run changes nothing')
  const changed = await postResponseBatch(app, clerk.key, open.id, [{ ...form, answers: { ...form.answers, safe: true } }])
  t.equal(changed.json().items[0].outcome, 'rejected', 'and the clerk\'s own form with other answers is refused, as before')
})
