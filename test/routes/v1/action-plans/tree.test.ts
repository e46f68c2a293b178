import { randomUUID } from 'node:crypto'
import t from 'tap'
import { build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeProgram, makeStakeholder } from '../../../factories.js'
import { countRows, createAction, createGoal, createObjective, createPlan, getTree, send, WRITER } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

t.test('a plan is built node by node and read back whole: 201, Location and ETag at each level', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const owner = await makeStakeholder(db, city.id)
  const partner = await makeStakeholder(db, city.id)
  const program = await makeProgram(db, city.id)
  const res = await send(app, city.key, 'POST', '/v1/action-plans', { title: 'Framework', currency: 'USD', status: 'draft' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, `/v1/action-plans/${res.json().id as string}`)
  t.match(res.headers.etag, /^"[^"]+-1"$/)
  const plan = res.json()
  t.match(plan, { title: 'Framework', currency: 'USD', status: 'draft', version: 1, vision: null })
  const goal = await createGoal(app, city.key, plan.id, { external_id: 'G1' })
  t.match(goal, { plan_id: plan.id, external_id: 'G1', title: 'Residents report hate safely' })
  const objective = await createObjective(app, city.key, goal.id)
  t.match(objective, { plan_id: plan.id, goal_id: goal.id })
  const action = await createAction(app, city.key, objective.id, {
    owner_id: owner.id,
    partner_ids: [partner.id],
    program_ids: [program.id],
    horizon: 'near_term',
    start_on: '2025-02-01',
    due_on: '2025-06-30',
    budget: { amount: 1250000 },
    funding: [{ source_type: 'community_foundation', funder: 'Fairfield County\'s Community Foundation', amount: 500000, secured: true, secured_on: '2025-01-15' }]
  })
  t.match(action, {
    plan_id: plan.id,
    objective_id: objective.id,
    owner_id: owner.id,
    partner_ids: [partner.id],
    program_ids: [program.id],
    status: 'not_started',
    progress: 0,
    budget: { amount: 1250000, currency: 'USD' },
    funding: [{ source_type: 'community_foundation', amount: 500000, currency: 'USD', secured: true, secured_on: '2025-01-15' }]
  })
  const tree = await getTree(app, city.key, plan.id)
  t.equal(tree.goals.length, 1)
  t.equal(tree.goals[0].objectives.length, 1)
  t.same(tree.goals[0].objectives[0].actions.map((a: { id: string }) => a.id), [action.id])
  t.equal(tree.rollup.actions, 1)
  t.equal(tree.rollup.budget_total, 1250000)
  t.equal(tree.rollup.funding_secured, 500000)
  t.equal(tree.rollup.funding_needed, 750000)
  t.equal(tree.rollup.local_funding_share, 1)
  const detail = await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)
  t.same(detail.json().timeline, [])
})

t.test('PATCH needs If-Match: missing is 428, stale is 412, and neither changes anything', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key)
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  const action = await createAction(app, city.key, objective.id)
  for (const [url, patch] of [[`/v1/action-plans/${plan.id as string}`, { status: 'adopted' }], [`/v1/goals/${goal.id as string}`, { title: 'New' }],
    [`/v1/objectives/${objective.id as string}`, { title: 'New' }], [`/v1/actions/${action.id as string}`, { progress: 50 }]] as const) {
    expectProblem(t, await send(app, city.key, 'PATCH', url, patch), 428, 'precondition_required', `${url} without If-Match`)
    const id = url.split('/').pop() as string
    const stale = `"${id.slice(-12)}-7"`
    expectProblem(t, await send(app, city.key, 'PATCH', url, patch, { 'if-match': stale }), 412, 'precondition_failed', `${url} with a stale ETag`)
    const ok = await send(app, city.key, 'PATCH', url, patch, { 'if-match': `"${id.slice(-12)}-1"` })
    t.equal(ok.statusCode, 200, `${url} with the current ETag`)
    t.equal(ok.json().version, 2)
    t.match(ok.headers.etag, /-2"$/)
    expectProblem(t, await send(app, city.key, 'PATCH', url, patch, { 'if-match': `"${id.slice(-12)}-1"` }), 412, 'precondition_failed', `${url} with the ETag it replaced`)
  }
})

t.test('a dated progress note sets the action\'s status and progress, changes its ETag and joins its timeline', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key)
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  const action = await createAction(app, city.key, objective.id)
  const before = await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)
  const first = await send(app, city.key, 'POST', `/v1/actions/${action.id as string}/updates`, { recorded_on: '2025-03-01', status: 'on_track', progress: 30, text: 'Form drafted in English and Spanish.' })
  t.equal(first.statusCode, 201)
  t.not(first.headers.etag, before.headers.etag)
  t.match(first.json(), { status: 'on_track', progress: 30, version: 2 })
  const second = await send(app, city.key, 'POST', `/v1/actions/${action.id as string}/updates`, { recorded_on: '2025-04-01', status: 'completed' }, { 'if-match': first.headers.etag as string })
  t.equal(second.statusCode, 201)
  t.match(second.json(), { status: 'completed', progress: 100, version: 3 })
  t.same(second.json().timeline.map((u: { recorded_on: string, status: string, progress: number }) => [u.recorded_on, u.status, u.progress]),
    [['2025-03-01', 'on_track', 30], ['2025-04-01', 'completed', 100]])
  const staleNote = await send(app, city.key, 'POST', `/v1/actions/${action.id as string}/updates`, { status: 'at_risk' }, { 'if-match': first.headers.etag as string })
  expectProblem(t, staleNote, 412, 'precondition_failed', 'a note with a stale ETag')
  const future = await send(app, city.key, 'POST', `/v1/actions/${action.id as string}/updates`, { status: 'at_risk', recorded_on: '2999-01-01' })
  expectProblem(t, future, 400, 'validation_failed', 'a note dated in the future')
  const read = await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)
  t.equal(read.headers.etag, second.headers.etag)
  t.equal(read.json().timeline.length, 2)
  t.equal(await countRows(db, 'action_updates', city.id), 2)
})

t.test('a goal or objective with children is a 409 on DELETE unless cascade=true, which takes them along', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key)
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  const action = await createAction(app, city.key, objective.id)
  await send(app, city.key, 'POST', `/v1/actions/${action.id as string}/updates`, { status: 'on_track', progress: 10 })
  const goalRefused = await send(app, city.key, 'DELETE', `/v1/goals/${goal.id as string}`)
  expectProblem(t, goalRefused, 409, 'conflict', 'a goal with an objective')
  t.match(goalRefused.json().detail, /1 objectives.*cascade=true/)
  expectProblem(t, await send(app, city.key, 'DELETE', `/v1/objectives/${objective.id as string}`), 409, 'conflict', 'an objective with an action')
  expectProblem(t, await send(app, city.key, 'DELETE', `/v1/action-plans/${plan.id as string}`), 409, 'conflict', 'a plan with a goal')
  t.equal(await countRows(db, 'actions', city.id), 1)
  const emptyGoal = await createGoal(app, city.key, plan.id)
  t.equal((await send(app, city.key, 'DELETE', `/v1/goals/${emptyGoal.id as string}`)).statusCode, 204, 'a goal without objectives is deleted')
  t.equal((await send(app, city.key, 'DELETE', `/v1/goals/${goal.id as string}?cascade=true`)).statusCode, 204)
  for (const table of ['goals', 'objectives', 'actions', 'action_updates'] as const) t.equal(await countRows(db, table, city.id), 0, `${table} cascaded`)
  t.equal((await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)).statusCode, 404)
  t.equal((await send(app, city.key, 'DELETE', `/v1/action-plans/${plan.id as string}`)).statusCode, 204, 'an empty plan is deleted')
})

t.test('a plan has one currency: a budget or funding line in another is a 422 naming it, and so is changing the plan\'s under existing amounts', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key, { title: 'Plan', currency: 'USD' })
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  const res = await send(app, city.key, 'POST', `/v1/objectives/${objective.id as string}/actions`, {
    title: 'Trainings', budget: { amount: 100, currency: 'EUR' }, funding: [{ source_type: 'private', amount: 10 }, { source_type: 'other', amount: 5, currency: 'CAD' }]
  })
  expectProblem(t, res, 422, 'unprocessable', 'amounts in another currency')
  t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/budget/currency', '/body/funding/1/currency'])
  t.equal(await countRows(db, 'actions', city.id), 0)
  const action = await createAction(app, city.key, objective.id, { budget: { amount: 100 } })
  const patch = await send(app, city.key, 'PATCH', `/v1/actions/${action.id as string}`, { funding: [{ source_type: 'private', amount: 1, currency: 'GBP' }] }, { 'if-match': '*' })
  expectProblem(t, patch, 422, 'unprocessable', 'PATCH to another currency')
  const moved = await send(app, city.key, 'PATCH', `/v1/action-plans/${plan.id as string}`, { currency: 'EUR' }, { 'if-match': '*' })
  expectProblem(t, moved, 422, 'unprocessable', 'the plan\'s currency under existing amounts')
  t.same(moved.json().errors.map((e: { path: string }) => e.path), ['/body/currency'])
  t.equal((await getTree(app, city.key, plan.id)).currency, 'USD')
  const empty = await createPlan(app, city.key, { title: 'Empty', currency: 'USD' })
  t.equal((await send(app, city.key, 'PATCH', `/v1/action-plans/${empty.id as string}`, { currency: 'EUR' }, { 'if-match': '*' })).json().currency, 'EUR', 'a plan without amounts changes currency')
})

t.test('owners, partners and programs must be the city\'s: a 422 names each item, on POST and PATCH', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const other = await makeCityWithKey(db, [...WRITER])
  const foreignOwner = await makeStakeholder(db, other.id)
  const foreignProgram = await makeProgram(db, other.id)
  const mine = await makeStakeholder(db, city.id)
  const plan = await createPlan(app, city.key)
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  const res = await send(app, city.key, 'POST', `/v1/objectives/${objective.id as string}/actions`, {
    title: 'Convene', owner_id: foreignOwner.id, partner_ids: [mine.id, randomUUID()], program_ids: [foreignProgram.id]
  })
  expectProblem(t, res, 422, 'unprocessable', 'another city\'s owner')
  t.same(res.json().errors, [
    { path: '/body/owner_id', message: 'is not a stakeholder of this city' },
    { path: '/body/partner_ids/1', message: 'is not a stakeholder of this city' },
    { path: '/body/program_ids/0', message: 'is not a program of this city' }
  ])
  const action = await createAction(app, city.key, objective.id, { owner_id: mine.id })
  const patch = await send(app, city.key, 'PATCH', `/v1/actions/${action.id as string}`, { owner_id: foreignOwner.id }, { 'if-match': '*' })
  expectProblem(t, patch, 422, 'unprocessable', 'PATCH to another city\'s owner')
  t.equal((await send(app, city.key, 'GET', `/v1/actions/${action.id as string}`)).json().owner_id, mine.id)
})

t.test('a stakeholder that owns or partners in an action, and a program an action uses, cannot be deleted (409)', async (t) => {
  const city = await makeCityWithKey(db, ['admin'])
  const owner = await makeStakeholder(db, city.id)
  const partner = await makeStakeholder(db, city.id)
  const program = await makeProgram(db, city.id)
  const plan = await createPlan(app, city.key)
  const goal = await createGoal(app, city.key, plan.id)
  const objective = await createObjective(app, city.key, goal.id)
  await createAction(app, city.key, objective.id, { owner_id: owner.id, partner_ids: [partner.id], program_ids: [program.id] })
  const ownerDelete = await send(app, city.key, 'DELETE', `/v1/stakeholders/${owner.id}`)
  expectProblem(t, ownerDelete, 409, 'conflict', 'an owner')
  t.match(ownerDelete.json().detail, /actions it owns/)
  const partnerDelete = await send(app, city.key, 'DELETE', `/v1/stakeholders/${partner.id}`)
  expectProblem(t, partnerDelete, 409, 'conflict', 'a partner')
  t.match(partnerDelete.json().detail, /actions it is a partner in/)
  const programDelete = await send(app, city.key, 'DELETE', `/v1/programs/${program.id}`)
  expectProblem(t, programDelete, 409, 'conflict', 'a program')
  t.match(programDelete.json().detail, /actions of the prevention plan/)
  const free = await makeStakeholder(db, city.id)
  t.equal((await send(app, city.key, 'DELETE', `/v1/stakeholders/${free.id}`)).statusCode, 204, 'a stakeholder no action names is deleted')
})

t.test('an objective or action moves only within its plan (422), and its actions follow an objective', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key)
  const other = await createPlan(app, city.key, { title: 'Other', currency: 'USD' })
  const [g1, g2, foreignGoal] = [await createGoal(app, city.key, plan.id), await createGoal(app, city.key, plan.id), await createGoal(app, city.key, other.id)]
  const objective = await createObjective(app, city.key, g1.id)
  const foreignObjective = await createObjective(app, city.key, foreignGoal.id)
  const action = await createAction(app, city.key, objective.id)
  expectProblem(t, await send(app, city.key, 'PATCH', `/v1/objectives/${objective.id as string}`, { goal_id: foreignGoal.id }, { 'if-match': '*' }), 422, 'unprocessable', 'a goal of another plan')
  expectProblem(t, await send(app, city.key, 'PATCH', `/v1/actions/${action.id as string}`, { objective_id: foreignObjective.id }, { 'if-match': '*' }), 422, 'unprocessable', 'an objective of another plan')
  const moved = await send(app, city.key, 'PATCH', `/v1/objectives/${objective.id as string}`, { goal_id: g2.id }, { 'if-match': '*' })
  t.equal(moved.json().goal_id, g2.id)
  const tree = await getTree(app, city.key, plan.id)
  const second = tree.goals.find((g: { id: string }) => g.id === g2.id)
  t.same(second.objectives[0].actions.map((a: { id: string }) => a.id), [action.id])
  t.equal(second.rollup.actions, 1)
})

t.test('GET /v1/actions filters by plan, status, owner, horizon, due_before and pages with a cursor', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const owner = await makeStakeholder(db, city.id)
  const plan = await createPlan(app, city.key)
  const other = await createPlan(app, city.key, { title: 'Other', currency: 'USD' })
  const objective = await createObjective(app, city.key, (await createGoal(app, city.key, plan.id)).id)
  const otherObjective = await createObjective(app, city.key, (await createGoal(app, city.key, other.id)).id)
  const a1 = await createAction(app, city.key, objective.id, { owner_id: owner.id, horizon: 'near_term', due_on: '2025-03-01', status: 'at_risk' })
  const a2 = await createAction(app, city.key, objective.id, { horizon: 'medium_term', due_on: '2026-03-01' })
  const a3 = await createAction(app, city.key, otherObjective.id, { owner_id: owner.id, horizon: 'near_term' })
  const ids = async (q: string): Promise<string[]> => {
    const res = await send(app, city.key, 'GET', `/v1/actions?${q}`)
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((a: { id: string }) => a.id)
  }
  t.same(await ids(`plan=${plan.id as string}`), [a1.id, a2.id])
  t.same(await ids('status=at_risk'), [a1.id])
  t.same(await ids(`owner=${owner.id}`), [a1.id, a3.id])
  t.same(await ids('horizon=near_term'), [a1.id, a3.id])
  t.same(await ids('due_before=2026-01-01'), [a1.id])
  t.same(await ids('updated_since=2000-01-01T00:00:00Z'), [a1.id, a2.id, a3.id])
  const first = await send(app, city.key, 'GET', '/v1/actions?limit=2')
  t.same(first.json().data.map((a: { id: string }) => a.id), [a1.id, a2.id])
  const next = await send(app, city.key, 'GET', `/v1/actions?limit=2&cursor=${encodeURIComponent(first.json().next_cursor as string)}`)
  t.same(next.json().data.map((a: { id: string }) => a.id), [a3.id])
  t.equal(next.json().next_cursor, null)
  expectProblem(t, await send(app, city.key, 'GET', '/v1/actions?cursor=abc.def'), 400, 'invalid_cursor', 'a tampered cursor')
  const plans = await send(app, city.key, 'GET', '/v1/action-plans')
  t.same(plans.json().data.map((p: { id: string }) => p.id), [plan.id, other.id])
})

t.test('siblings are read in their position order, then oldest first; an external_id taken in the plan is a 409 on PATCH', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const plan = await createPlan(app, city.key)
  const unplaced = await createGoal(app, city.key, plan.id, { title: 'Unplaced', external_id: 'G-x' })
  const second = await createGoal(app, city.key, plan.id, { title: 'Second', position: 2 })
  const first = await createGoal(app, city.key, plan.id, { title: 'First', position: 1 })
  t.same((await getTree(app, city.key, plan.id)).goals.map((g: { id: string }) => g.id), [first.id, second.id, unplaced.id])
  const taken = await send(app, city.key, 'PATCH', `/v1/goals/${first.id as string}`, { external_id: 'G-x' }, { 'if-match': '*' })
  expectProblem(t, taken, 409, 'conflict', 'an external_id another goal of the plan holds')
  const elsewhere = await createPlan(app, city.key, { title: 'Elsewhere', currency: 'USD' })
  t.equal((await createGoal(app, city.key, elsewhere.id, { external_id: 'G-x' })).external_id, 'G-x', 'the same external_id in another plan is another goal')
})
