import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { METRIC_NAMES, METRICS } from '../../../../src/routes/v1/kpis/metrics.js'
import { kpiReferenceProblems } from '../../../../src/routes/v1/kpis/repo.js'
import { prepareKpi, type KpiDraft } from '../../../../src/routes/v1/kpis/rules.js'
import type { KpiInput } from '../../../../src/routes/v1/kpis/schema.js'
import { bearer, build, comparableProblem, countStatements, expectProblem } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createKpi, kpi, planOf, surveyWith } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

/** Every metric that names a record of the city in its parameters, with a definition naming `id`. */
const naming = {
  survey_option_share: (id: string) => kpi({ metric: 'survey_option_share', unit: 'percent', direction: 'increase', parameters: { survey_id: id, question_code: 'feel_safe', option_code: 'yes' } }),
  survey_question_mean: (id: string) => kpi({ metric: 'survey_question_mean', unit: 'score', direction: 'increase', parameters: { survey_id: id, question_code: 'trust_police' } }),
  action_completion_rate: (id: string) => kpi({ metric: 'action_completion_rate', unit: 'percent', direction: 'increase', parameters: { plan_id: id } }),
  action_on_track_share: (id: string) => kpi({ metric: 'action_on_track_share', unit: 'percent', direction: 'increase', parameters: { plan_id: id } }),
  action_overdue_count: (id: string) => kpi({ metric: 'action_overdue_count', unit: 'count', direction: 'decrease', parameters: { plan_id: id } }),
  local_funding_share: (id: string) => kpi({ metric: 'local_funding_share', unit: 'percent', direction: 'increase', parameters: { plan_id: id } })
}
const parameterOf = (metric: keyof typeof naming): 'survey_id' | 'plan_id' => metric.startsWith('survey') ? 'survey_id' : 'plan_id'

/** A city with a survey and a plan of its own. */
async function cityWithRecords () {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read', 'surveys:read', 'plans:read'])
  const surveyId = await surveyWith(db, city.id, [])
  const { planId } = await planOf(db, city.id)
  return { ...city, records: { survey_id: surveyId, plan_id: planId } }
}

const kpiCount = async (cityId: string): Promise<number> =>
  (await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM kpis WHERE city_id = ${cityId}::uuid`))[0]?.n ?? -1

t.test('every parameter of the catalog that holds an id names the table it refers to', async (t) => {
  for (const name of METRIC_NAMES) {
    const properties = (METRICS[name].parameters as { properties?: Record<string, { format?: string }> }).properties ?? {}
    const ids = Object.entries(properties).filter(([, schema]) => schema.format === 'uuid').map(([parameter]) => parameter).sort()
    const declared = ((METRICS[name] as { references?: Array<{ parameter: string }> }).references ?? []).map((r) => r.parameter).sort()
    t.same(declared, ids, `${name}: ${ids.join(', ') || 'no id parameter'}`)
  }
  t.same(Object.keys(naming).sort(), METRIC_NAMES.filter((name) => 'references' in METRICS[name]).sort(), 'this file tries every metric that names a record')
})

t.test('a KPI naming another city\'s survey or plan is a 422 naming the parameter, the same answer as for an id that does not exist, and nothing is written', async (t) => {
  const theirs = await cityWithRecords()
  const mine = await cityWithRecords()
  for (const [metric, definition] of Object.entries(naming) as Array<[keyof typeof naming, (id: string) => Record<string, unknown>]>) {
    const parameter = parameterOf(metric)
    const body = definition(theirs.records[parameter])
    const foreign = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(mine.key), payload: body })
    expectProblem(t, foreign, 422, 'unprocessable', `${metric}: another city's ${parameter}`)
    t.same(foreign.json().errors, [{ path: `/body/parameters/${parameter}`, message: `is not ${parameter === 'survey_id' ? 'a survey' : 'an action plan'} of this city` }], `${metric}: errors name /body/parameters/${parameter}`)
    const missing = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(mine.key), payload: { ...body, parameters: { ...(body.parameters as object), [parameter]: randomUUID() } } })
    t.same(comparableProblem(foreign), comparableProblem(missing), `${metric}: the same answer as for an id that does not exist`)
    const own = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(mine.key), payload: { ...body, parameters: { ...(body.parameters as object), [parameter]: mine.records[parameter].toUpperCase() } } })
    t.equal(own.statusCode, 201, `${metric}: its own ${parameter} is accepted, in any case`)
  }
  t.equal(await kpiCount(mine.id), Object.keys(naming).length, 'only the KPIs naming the city\'s own records were written')
})

t.test('a PATCH that points a KPI at another city\'s survey or plan is the same 422 as for a missing one, and the KPI stays as it was', async (t) => {
  const theirs = await cityWithRecords()
  const mine = await cityWithRecords()
  const created = await createKpi(app, mine.key, naming.survey_option_share(mine.records.survey_id))
  const read = await app.inject({ method: 'GET', url: `/v1/kpis/${created.id}`, headers: bearer(mine.key) })
  const patch = async (payload: Record<string, unknown>) => await app.inject({
    method: 'PATCH', url: `/v1/kpis/${created.id}`, headers: { ...bearer(mine.key), 'if-match': read.headers.etag as string }, payload
  })
  const foreignSurvey = await patch({ parameters: { survey_id: theirs.records.survey_id } })
  expectProblem(t, foreignSurvey, 422, 'unprocessable', 'another city\'s survey')
  t.same(foreignSurvey.json().errors, [{ path: '/body/parameters/survey_id', message: 'is not a survey of this city' }])
  t.same(comparableProblem(foreignSurvey), comparableProblem(await patch({ parameters: { survey_id: randomUUID() } })), 'the same answer as for a survey that does not exist')

  const toPlan = (planId: string) => ({ metric: 'action_completion_rate', parameters: { survey_id: null, question_code: null, option_code: null, plan_id: planId } })
  const foreignPlan = await patch(toPlan(theirs.records.plan_id))
  expectProblem(t, foreignPlan, 422, 'unprocessable', 'another city\'s plan')
  t.same(foreignPlan.json().errors, [{ path: '/body/parameters/plan_id', message: 'is not an action plan of this city' }])
  t.same(comparableProblem(foreignPlan), comparableProblem(await patch(toPlan(randomUUID()))), 'the same answer as for a plan that does not exist')

  const after = await app.inject({ method: 'GET', url: `/v1/kpis/${created.id}`, headers: bearer(mine.key) })
  t.equal(after.json().version, 1, 'the KPI was not changed')
  t.same(after.json().parameters, created.parameters)
  const own = await patch(toPlan(mine.records.plan_id))
  t.equal(own.statusCode, 200, 'its own plan is accepted')
  t.same(own.json().parameters, { plan_id: mine.records.plan_id })
})

t.test('the records named by many KPIs are looked up in one statement, each KPI answered on its own', async (t) => {
  const theirs = await cityWithRecords()
  const mine = await cityWithRecords()
  const draftOf = (body: Record<string, unknown>): KpiDraft => {
    const prepared = prepareKpi(body as KpiInput)
    if (prepared.draft === null) throw new Error(JSON.stringify(prepared.problems))
    return prepared.draft
  }
  const drafts = Array.from({ length: 40 }, (_, i) => {
    const metric = (Object.keys(naming) as Array<keyof typeof naming>)[i % 6] as keyof typeof naming
    const parameter = parameterOf(metric)
    const id = i % 3 === 0 ? mine.records[parameter] : i % 3 === 1 ? theirs.records[parameter] : randomUUID()
    return { draft: draftOf(naming[metric](id)), parameter, known: i % 3 === 0 }
  })
  drafts.push({ draft: draftOf(kpi()), parameter: 'plan_id', known: true })
  const lookups = countStatements(database, /\bFROM (surveys|action_plans)\b/)
  const problems = await kpiReferenceProblems(db, mine.id, drafts.map((d) => d.draft))
  t.equal(lookups.count(), 1, 'one statement for 41 KPIs')
  for (const [i, d] of drafts.entries()) {
    if (d.known) t.equal(problems[i], null, `KPI ${i}: no problem`)
    else t.same(problems[i], [{ path: `/parameters/${d.parameter}`, message: `is not ${d.parameter === 'survey_id' ? 'a survey' : 'an action plan'} of this city` }], `KPI ${i}: its ${d.parameter} is refused`)
  }
  const none = countStatements(database, /\bFROM (surveys|action_plans)\b/)
  t.same(await kpiReferenceProblems(db, mine.id, [draftOf(kpi())]), [null], 'a KPI naming no record')
  t.equal(none.count(), 0, 'needs no statement')
})
