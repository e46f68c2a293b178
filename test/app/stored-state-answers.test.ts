import t from 'tap'
import { bearer, build } from '../helper.js'
import { makeCity, makeKey, makeProgram, makeStakeholder } from '../factories.js'
import { createIncident, etagOf, patchIncident, report } from '../routes/v1/incidents/fixtures.js'
import { createKpi, kpi } from '../routes/v1/kpis/fixtures.js'
import { createOpenSurvey, createSurvey, postResponse, response, survey } from '../routes/v1/surveys/fixtures.js'

// A write whose answer tells what is stored (a copy's definition, a 409 naming what refers to a record, a
// measurement's 201 or 200) needs the scope that reads it; a deletion is refused for what the key holds, or
// for what it can read, never for records it cannot see.

const { app, database } = await build(t)
const db = database.db

type Res = { statusCode: number, json: () => any, body: string }
const problem = (res: Res): unknown => {
  const { instance: _i, request_id: _r, ...rest } = res.json()
  return { status: res.statusCode, ...rest }
}

/** A plan with one goal and one objective, made by `key`; their ids. */
async function planTree (key: string): Promise<{ planId: string, goalId: string, objectiveId: string }> {
  const post = async (url: string, payload: object): Promise<string> => {
    const res = await app.inject({ method: 'POST', url, headers: bearer(key), payload })
    if (res.statusCode !== 201) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json().id
  }
  const planId = await post('/v1/action-plans', { title: 'Prevention plan', period_start: '2027-01-01', period_end: '2027-12-31', currency: 'USD' })
  const goalId = await post(`/v1/action-plans/${planId}/goals`, { title: 'Safer streets' })
  const objectiveId = await post(`/v1/goals/${goalId}/objectives`, { title: 'Fewer incidents' })
  return { planId, goalId, objectiveId }
}

t.test('surveys: a copy and a deletion need surveys:read, and an opened survey is refused alike whether anyone answered', async (t) => {
  const city = await makeCity(db)
  const coordinator = await makeKey(db, city.id, ['surveys:write', 'surveys:read', 'survey-responses:write'])
  const writer = await makeKey(db, city.id, ['surveys:write'])
  const answered = await createOpenSurvey(app, coordinator.key)
  const unanswered = await createOpenSurvey(app, coordinator.key)
  t.equal((await postResponse(app, coordinator.key, answered.id, response())).statusCode, 201)

  const copy = await app.inject({ method: 'POST', url: `/v1/surveys/${answered.id as string}/copy`, headers: bearer(writer.key) })
  t.equal(copy.statusCode, 403, 'a key that cannot read surveys is not handed one\'s definition')
  const blindDelete = await app.inject({ method: 'DELETE', url: `/v1/surveys/${answered.id as string}`, headers: bearer(writer.key) })
  t.equal(blindDelete.statusCode, 403)

  const remove = async (id: string): Promise<Res> => await app.inject({ method: 'DELETE', url: `/v1/surveys/${id}`, headers: bearer(coordinator.key) })
  const [withResponses, without] = [await remove(answered.id), await remove(unanswered.id)]
  t.equal(withResponses.statusCode, 409)
  t.same(problem(withResponses), problem(without), 'an opened survey is refused for its status, not for its responses')
  const draft = await createSurvey(app, coordinator.key, survey())
  t.equal((await remove(draft.id)).statusCode, 204, 'a draft is deleted')
})

t.test('KPIs: defining one and recording a value answer what is stored, so they need kpis:read', async (t) => {
  const city = await makeCity(db)
  const analyst = await makeKey(db, city.id, ['kpis:write', 'kpis:read'])
  const writer = await makeKey(db, city.id, ['kpis:write'])
  const stored = await createKpi(app, analyst.key, kpi({ method: 'manual', metric: undefined }))
  const taken = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(writer.key), payload: kpi({ code: stored.code }) })
  const fresh = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(writer.key), payload: kpi() })
  t.same([taken.statusCode, fresh.statusCode], [403, 403], 'a taken code and a fresh one are refused alike, for the key\'s scopes')
  const measured = await app.inject({ method: 'PUT', url: `/v1/kpis/${stored.id}/measurements/2026-03`, headers: bearer(writer.key), payload: { value: 4 } })
  t.equal(measured.statusCode, 403)
  const byAnalyst = await app.inject({ method: 'PUT', url: `/v1/kpis/${stored.id}/measurements/2026-03`, headers: bearer(analyst.key), payload: { value: 4 } })
  t.equal(byAnalyst.statusCode, 201, byAnalyst.body)
})

t.test('a stakeholder or program that incidents may refer to is deleted only by a key that sees every incident', async (t) => {
  const city = await makeCity(db)
  const caseWorker = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case', 'stakeholders:read'])
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read', 'plans:read'])
  const partnerAdmin = await makeKey(db, city.id, ['admin'], { sources: ['ngo-a'] })
  const cityAdmin = await makeKey(db, city.id, ['admin'])
  const referred = { stakeholder: await makeStakeholder(db, city.id), program: await makeProgram(db, city.id, 'Legal aid clinic') }
  const untouched = { stakeholder: await makeStakeholder(db, city.id), program: await makeProgram(db, city.id, 'Counselling') }
  const incident = await createIncident(app, caseWorker.key, report({ source: 'ngo-b' }))
  for (const status of ['under_review', 'verified']) {
    t.equal((await patchIncident(app, caseWorker.key, incident.id, await etagOf(app, caseWorker.key, incident.id), { status })).statusCode, 200)
  }
  const referrals = [{ kind: 'stakeholder', id: referred.stakeholder.id, referred_on: '2024-03-05' }, { kind: 'program', id: referred.program.id, referred_on: '2024-03-05' }]
  const moved = await patchIncident(app, caseWorker.key, incident.id, await etagOf(app, caseWorker.key, incident.id), { status: 'referred', referrals })
  t.equal(moved.statusCode, 200, moved.body)

  const remove = async (key: string, kind: 'stakeholders' | 'programs', id: string): Promise<Res> => await app.inject({ method: 'DELETE', url: `/v1/${kind}/${id}`, headers: bearer(key) })
  for (const kind of ['stakeholders', 'programs'] as const) {
    const which = kind === 'stakeholders' ? 'stakeholder' : 'program'
    for (const [who, key] of [['a key without incidents:read', steward.key], ['a partner\'s administrator', partnerAdmin.key]] as const) {
      const a = await remove(key, kind, referred[which].id)
      const b = await remove(key, kind, untouched[which].id)
      t.equal(a.statusCode, 403, `${who}: ${kind}`)
      t.same(problem(a), problem(b), `${who} is answered alike whether another source's report refers to it`)
    }
    t.equal((await remove(cityAdmin.key, kind, referred[which].id)).statusCode, 409, 'the city\'s administrator is told what refers to it')
  }
  t.equal((await remove(cityAdmin.key, 'programs', untouched.program.id)).statusCode, 204)
})

t.test('plans: a progress note answers the whole action, so it needs plans:read', async (t) => {
  const city = await makeCity(db)
  const planner = await makeKey(db, city.id, ['plans:write', 'plans:read'])
  const writer = await makeKey(db, city.id, ['plans:write'])
  const { objectiveId } = await planTree(planner.key)
  const action = await app.inject({ method: 'POST', url: `/v1/objectives/${objectiveId}/actions`, headers: bearer(planner.key), payload: { title: 'Train staff', budget: { amount: 999900 } } })
  t.equal(action.statusCode, 201, action.body)
  const note = await app.inject({ method: 'POST', url: `/v1/actions/${action.json().id as string}/updates`, headers: bearer(writer.key), payload: { status: 'on_track' } })
  t.equal(note.statusCode, 403, 'a key that cannot read the plan is not answered with an action')
  t.notMatch(note.body, /999900|Train staff/)
})

t.test('a POST with an external_id unique in the city needs the read scope: meetings and surveys', async (t) => {
  const city = await makeCity(db)
  const steward = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read', 'surveys:write', 'surveys:read'])
  const writer = await makeKey(db, city.id, ['stakeholders:write', 'surveys:write'])
  const meeting = (externalId: string): Record<string, unknown> => ({ external_id: externalId, held_on: '2024-05-01', title: 'Leadership group', kind: 'leadership_group' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/meetings', headers: bearer(steward.key), payload: meeting('m-1') })).statusCode, 201)
  const taken = await app.inject({ method: 'POST', url: '/v1/meetings', headers: bearer(writer.key), payload: meeting('m-1') })
  const fresh = await app.inject({ method: 'POST', url: '/v1/meetings', headers: bearer(writer.key), payload: meeting('m-2') })
  t.equal(taken.statusCode, 403)
  t.same(problem(taken), problem(fresh), 'a meeting\'s external_id is refused alike, used or not')
  const named = await app.inject({ method: 'POST', url: '/v1/meetings', headers: bearer(writer.key), payload: { held_on: '2024-05-01', title: 'Workshop', kind: 'workshop', attendee_ids: [(await makeStakeholder(db, city.id)).id] } })
  t.equal(named.statusCode, 403, 'nor may it name attendees it cannot read')
  t.equal((await app.inject({ method: 'POST', url: '/v1/surveys', headers: bearer(steward.key), payload: survey({ external_id: 's-1' }) })).statusCode, 201)
  const surveyTaken = await app.inject({ method: 'POST', url: '/v1/surveys', headers: bearer(writer.key), payload: survey({ external_id: 's-1' }) })
  const surveyFresh = await app.inject({ method: 'POST', url: '/v1/surveys', headers: bearer(writer.key), payload: survey({ external_id: 's-2' }) })
  t.equal(surveyTaken.statusCode, 403)
  t.same(problem(surveyTaken), problem(surveyFresh), 'a survey\'s external_id too')
})

t.test('survey responses are checked against the definition, so entering them needs surveys:read', async (t) => {
  const city = await makeCity(db)
  const coordinator = await makeKey(db, city.id, ['surveys:write', 'surveys:read'])
  const clerk = await makeKey(db, city.id, ['survey-responses:write'])
  const open = await createOpenSurvey(app, coordinator.key)
  const probe = [{ external_id: 'p-1', filled_on: '2024-05-02', language: 'en', answers: { unknown_question: 1, neighbourhood: 'nowhere' } }]
  const res = await app.inject({ method: 'POST', url: `/v1/surveys/${open.id as string}/responses/batch?dry_run=true`, headers: bearer(clerk.key), payload: probe })
  t.equal(res.statusCode, 403)
  t.notMatch(res.body, /neighbourhood|downtown|not a question/, 'no question or option named')
  t.equal((await postResponse(app, clerk.key, open.id, { ...response(), external_id: 'p-2', filled_on: '2024-05-02' })).statusCode, 403)
})

t.test('an administrator\'s key limited to sources cannot change the city\'s settings, suppression among them', async (t) => {
  const city = await makeCity(db)
  const partnerAdmin = await makeKey(db, city.id, ['admin'], { sources: ['ngo-a'] })
  const cityAdmin = await makeKey(db, city.id, ['admin'])
  const patch = async (key: string): Promise<Res> => await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(key), 'if-match': '*' }, payload: { small_cell_threshold: 3 } })
  t.equal((await patch(partnerAdmin.key)).statusCode, 403)
  t.equal((await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(cityAdmin.key) })).json().small_cell_threshold, 10, 'unchanged')
  t.equal((await patch(cityAdmin.key)).statusCode, 200, 'the city\'s administrator can')
})

t.test('a write-only key may not name other records by id: a person and an organisation are refused alike', async (t) => {
  const city = await makeCity(db)
  const writer = await makeKey(db, city.id, ['stakeholders:write'])
  const person = await makeStakeholder(db, city.id, { kind: 'person', name: 'A person' })
  const organisation = await makeStakeholder(db, city.id, { kind: 'organization', name: 'An organisation' })
  const send = async (url: string, body: unknown): Promise<unknown> => problem(await app.inject({ method: 'POST', url, headers: bearer(writer.key), payload: body as never }))
  const member = (id: string): Record<string, unknown> => ({ kind: 'person', name: 'Member', category: 'community_organization', organization_id: id })
  const [asPerson, asOrganisation] = [await send('/v1/stakeholders', member(person.id)), await send('/v1/stakeholders', member(organisation.id))]
  t.same(asPerson, asOrganisation)
  t.match(asPerson, { status: 403, errors: [{ path: '/body/organization_id', message: /needs stakeholders:read/ }] })
  const batch = await send('/v1/stakeholders/batch?dry_run=true', [{ external_id: 'member-1', ...member(person.id) }])
  t.match(batch, { status: 403 }, 'the directory\'s batch reads what it meets: refused for the key\'s scopes')
})

t.test('a change feed\'s cursor is as long whatever transaction number it holds', async (t) => {
  const city = await makeCity(db)
  const id = '01a25296-20ef-77b3-a269-6af6f67ed733'
  const lengths = [[1, id], [123_456, id], [123_456_789_012, id]].map((p) => app.cursors.encode(city.id, 'incidents:updated_asc', p).length)
  t.same(new Set(lengths).size, 1, `one length: ${lengths.join(', ')}`)
})

t.test('a KPI names a survey or a plan only with the scope that reads it', async (t) => {
  const city = await makeCity(db)
  const coordinator = await makeKey(db, city.id, ['surveys:write', 'surveys:read'])
  const analyst = await makeKey(db, city.id, ['kpis:write', 'kpis:read'])
  const surveyId = (await createOpenSurvey(app, coordinator.key)).id as string
  const share = (id: string): Record<string, unknown> => kpi({ unit: 'percent', direction: 'increase', metric: 'survey_option_share', parameters: { survey_id: id, question_code: 'neighbourhood', option_code: 'downtown' } })
  const [stored, missing] = [
    await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(analyst.key), payload: share(surveyId) }),
    await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(analyst.key), payload: share('01a252b5-018f-72b9-b713-000000000000') })
  ]
  t.equal(stored.statusCode, 403)
  t.same(problem(stored), problem(missing), 'a survey it cannot read is refused as one that does not exist')
})

t.test('a referral names a program or a stakeholder, so it needs stakeholders:read', async (t) => {
  const city = await makeCity(db)
  const caseWorker = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  const incident = await createIncident(app, caseWorker.key, report())
  const refer = async (id: string): Promise<Res> => await patchIncident(app, caseWorker.key, incident.id, await etagOf(app, caseWorker.key, incident.id), { referrals: [{ kind: 'program', id, referred_on: '2024-03-05' }] })
  const [stored, missing] = [await refer((await makeProgram(db, city.id)).id), await refer('01a252b5-018f-72b9-b713-000000000000')]
  t.equal(stored.statusCode, 403)
  t.same(problem(stored), problem(missing))
})

t.test('goals, objectives and actions are added under a plan only by a key that reads it, and naming is a 403, never a retry', async (t) => {
  const city = await makeCity(db)
  const planner = await makeKey(db, city.id, ['plans:write', 'plans:read'])
  const writer = await makeKey(db, city.id, ['plans:write'])
  const { planId, objectiveId } = await planTree(planner.key)
  const goal = await app.inject({ method: 'POST', url: `/v1/action-plans/${planId}/goals`, headers: bearer(writer.key), payload: { title: 'Safer streets' } })
  t.equal(goal.statusCode, 403, 'a goal under a plan it cannot read')
  const owned = await app.inject({ method: 'POST', url: `/v1/objectives/${objectiveId}/actions`, headers: bearer(planner.key), payload: { title: 'Train staff', owner_id: (await makeStakeholder(db, city.id)).id } })
  t.equal(owned.statusCode, 403, 'an owner it cannot read is refused for its scopes')
  t.not(owned.json().retryable, true)
  t.match(owned.json().errors, [{ path: '/body/owner_id', message: /needs stakeholders:read/ }])
})
