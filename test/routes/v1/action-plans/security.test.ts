import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey, makeStakeholder } from '../../../factories.js'
import { countRows, createAction, createGoal, createObjective, createPlan, getTree, WRITER } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>, write: boolean, probe?: boolean }
interface Ids { plan: string, goal: string, objective: string, action: string }

/** Every operation of the prevention plan; `probe` marks those that name one record by its id. */
const operations = (ids: Ids): Op[] => [
  { method: 'POST', url: '/v1/action-plans', payload: { title: 'P', currency: 'USD' }, write: true },
  { method: 'GET', url: '/v1/action-plans', write: false },
  { method: 'GET', url: `/v1/action-plans/${ids.plan}`, write: false, probe: true },
  { method: 'PATCH', url: `/v1/action-plans/${ids.plan}`, payload: { status: 'adopted' }, headers: { 'if-match': '*' }, write: true, probe: true },
  { method: 'POST', url: `/v1/action-plans/${ids.plan}/goals`, payload: { title: 'G' }, write: true, probe: true },
  { method: 'POST', url: `/v1/action-plans/${ids.plan}/import`, payload: { goals: [{ external_id: 'G', title: 'G' }] }, write: true, probe: true },
  { method: 'PATCH', url: `/v1/goals/${ids.goal}`, payload: { title: 'G2' }, headers: { 'if-match': '*' }, write: true, probe: true },
  { method: 'POST', url: `/v1/goals/${ids.goal}/objectives`, payload: { title: 'O' }, write: true, probe: true },
  { method: 'PATCH', url: `/v1/objectives/${ids.objective}`, payload: { title: 'O2' }, headers: { 'if-match': '*' }, write: true, probe: true },
  { method: 'POST', url: `/v1/objectives/${ids.objective}/actions`, payload: { title: 'A' }, write: true, probe: true },
  { method: 'GET', url: '/v1/actions', write: false },
  { method: 'GET', url: `/v1/actions/${ids.action}`, write: false, probe: true },
  { method: 'PATCH', url: `/v1/actions/${ids.action}`, payload: { progress: 50 }, headers: { 'if-match': '*' }, write: true, probe: true },
  { method: 'POST', url: `/v1/actions/${ids.action}/updates`, payload: { status: 'on_track' }, write: true, probe: true },
  { method: 'DELETE', url: `/v1/actions/${ids.action}`, write: true, probe: true },
  { method: 'DELETE', url: `/v1/objectives/${ids.objective}?cascade=true`, write: true, probe: true },
  { method: 'DELETE', url: `/v1/goals/${ids.goal}?cascade=true`, write: true, probe: true },
  { method: 'DELETE', url: `/v1/action-plans/${ids.plan}?cascade=true`, write: true, probe: true }
]

const inject = async (op: Op, key?: string) =>
  await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

async function makeTree (key: string): Promise<Ids> {
  const plan = await createPlan(app, key)
  const goal = await createGoal(app, key, plan.id)
  const objective = await createObjective(app, key, goal.id)
  const action = await createAction(app, key, objective.id)
  return { plan: plan.id, goal: goal.id, objective: objective.id, action: action.id }
}

async function unchanged (t: Test, key: string, ids: Ids, cityId: string): Promise<void> {
  const tree = await getTree(app, key, ids.plan)
  t.equal(tree.version, 1, 'the plan is untouched')
  t.equal(tree.goals[0].version, 1, 'its goal is untouched')
  t.equal(tree.goals[0].objectives[0].actions[0].version, 1, 'its action is untouched')
  t.equal(await countRows(db, 'action_plans', cityId), 1)
  t.equal(await countRows(db, 'action_updates', cityId), 0)
}

t.test('every plan operation answers 401 without a key, and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const ids = await makeTree(city.key)
  for (const op of operations(ids)) {
    const res = await inject(op)
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
    t.equal(res.json().code, 'unauthorized')
  }
  await unchanged(t, city.key, ids, city.id)
})

t.test('plans:read reads but cannot write; keys with other scopes can do neither (403)', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const ids = await makeTree(city.key)
  const reader = await makeKey(db, city.id, ['plans:read'])
  const unrelated = await makeKey(db, city.id, ['stakeholders:write', 'stakeholders:read', 'incidents:read', 'kpis:read'])
  for (const op of operations(ids)) {
    if (op.write) {
      const res = await inject(op, reader.key)
      t.equal(res.statusCode, 403, `plans:read: ${op.method} ${op.url}`)
      t.equal(res.json().code, 'forbidden')
    } else {
      t.equal((await inject(op, reader.key)).statusCode, 200, `plans:read: ${op.method} ${op.url}`)
    }
    const res = await inject(op, unrelated.key)
    t.equal(res.statusCode, 403, `other scopes: ${op.method} ${op.url}`)
  }
  await unchanged(t, city.key, ids, city.id)
})

t.test('another city\'s plan, goal, objective and action answer 404 exactly like a random id, and are not listed', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, ['admin'])
  const foreign = await makeTree(theirs.key)
  const random = operations({ plan: randomUUID(), goal: randomUUID(), objective: randomUUID(), action: randomUUID() }).filter((op) => op.probe === true)
  for (const [i, op] of operations(foreign).filter((o) => o.probe === true).entries()) {
    const res = await inject(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await inject(random[i] as Op, mine.key)), `${op.method}: the same answer as a random id`)
  }
  await unchanged(t, theirs.key, foreign, theirs.id)
  for (const url of ['/v1/action-plans', '/v1/actions', `/v1/actions?plan=${foreign.plan}`]) {
    t.same((await app.inject({ method: 'GET', url, headers: bearer(mine.key) })).json().data, [], `${url} lists nothing of theirs`)
  }
})

t.test('an owner or partner from another city is refused (422), by id and by external id', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, [...WRITER])
  const foreign = await makeStakeholder(db, theirs.id, { externalId: 'shared-name' })
  const ids = await makeTree(mine.key)
  const byId = await inject({ method: 'POST', url: `/v1/objectives/${ids.objective}/actions`, payload: { title: 'A', partner_ids: [foreign.id] }, write: true }, mine.key)
  t.equal(byId.statusCode, 422)
  t.same(byId.json().errors.map((e: { path: string }) => e.path), ['/body/partner_ids/0'])
  const byExternalId = await inject({
    method: 'POST',
    url: `/v1/action-plans/${ids.plan}/import`,
    payload: { goals: [{ external_id: 'G', title: 'G', objectives: [{ external_id: 'O', title: 'O', actions: [{ external_id: 'A', title: 'A', owner_external_id: 'shared-name' }] }] }] },
    write: true
  }, mine.key)
  t.equal(byExternalId.statusCode, 422)
  t.same(byExternalId.json().errors.map((e: { path: string }) => e.path), ['/body/goals/0/objectives/0/actions/0/owner_external_id'])
  t.equal(await countRows(db, 'actions', mine.id), 1)
})
