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
  const caseWorker = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
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
