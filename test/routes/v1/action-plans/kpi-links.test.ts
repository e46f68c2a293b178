import t from 'tap'
import { build, expectProblem } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createKpi } from '../kpis/fixtures.js'
import { createAction, createGoal, createObjective, createPlan, send, WRITER } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

t.test('an action names the KPIs it contributes to: KPIs of its own city only, and a KPI an action names cannot be deleted', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER, 'kpis:write', 'kpis:read'])
  const other = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  const indicator = await createKpi(app, city.key)
  const foreign = await createKpi(app, other.key)
  const plan = await createPlan(app, city.key)
  const objective = await createObjective(app, city.key, (await createGoal(app, city.key, plan.id)).id)

  const action = await createAction(app, city.key, objective.id, { kpi_ids: [indicator.id] })
  t.same(action.kpi_ids, [indicator.id], 'the action carries the KPI')

  const refused = await send(app, city.key, 'POST', `/v1/objectives/${objective.id as string}/actions`, { title: 'Train front-desk staff', kpi_ids: [indicator.id, foreign.id] })
  expectProblem(t, refused, 422, 'unprocessable', 'another city\'s KPI')
  t.ok(refused.json().errors.some((e: { path: string }) => e.path.endsWith('/kpi_ids/1')), 'the problem names the foreign KPI')

  const busy = await send(app, city.key, 'DELETE', `/v1/kpis/${indicator.id}`)
  expectProblem(t, busy, 409, 'conflict', 'a KPI an action names')
  t.match(busy.json().detail, /actions of the prevention plan/)

  const read = await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)
  const patched = await send(app, city.key, 'PATCH', `/v1/actions/${action.id as string}`, { kpi_ids: null }, { 'if-match': read.headers.etag as string })
  t.equal(patched.statusCode, 200)
  t.same(patched.json().kpi_ids, [], 'null clears the list')
  const gone = await send(app, city.key, 'DELETE', `/v1/kpis/${indicator.id}`)
  t.equal(gone.statusCode, 204, 'deletable once no action names it')
})
