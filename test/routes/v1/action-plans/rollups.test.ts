import t from 'tap'
import { build, countStatements } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { localDate, today } from '../../../../src/lib/dates.js'
import { addDays, createAction, createGoal, createObjective, createPlan, getTree, send, setTimezone, WRITER } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

const rollupOf = (node: Record<string, any>): Record<string, unknown> => node.rollup
const zeroStatus = { not_started: 0, on_track: 0, at_risk: 0, off_track: 0, completed: 0, cancelled: 0 }

t.test('roll-ups of a hand-computed plan: progress, counts by status, overdue, owners, budget, funding and local share at every level', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const owner = await makeStakeholder(db, city.id)
  const day = today('America/New_York')
  const yesterday = addDays(day, -1)
  const plan = await createPlan(app, city.key)
  const goalA = await createGoal(app, city.key, plan.id, { title: 'A' })
  const goalB = await createGoal(app, city.key, plan.id, { title: 'B' })
  const goalC = await createGoal(app, city.key, plan.id, { title: 'C, still empty' })
  const a1 = await createObjective(app, city.key, goalA.id)
  const a2 = await createObjective(app, city.key, goalA.id)
  const b1 = await createObjective(app, city.key, goalB.id)
  await createAction(app, city.key, a1.id, {
    status: 'on_track',
    progress: 40,
    owner_id: owner.id,
    due_on: yesterday,
    budget: { amount: 100000 },
    funding: [{ source_type: 'local_government', amount: 30000, secured: true }, { source_type: 'federal_grant', amount: 50000, secured: true },
      { source_type: 'private', amount: 20000, secured: false }]
  })
  await createAction(app, city.key, a1.id, {
    status: 'completed', progress: 60, due_on: yesterday, budget: { amount: 50000 }, funding: [{ source_type: 'community_foundation', amount: 50000, secured: true }]
  })
  await createAction(app, city.key, a1.id, {
    status: 'cancelled', progress: 10, due_on: yesterday, budget: { amount: 999999 }, funding: [{ source_type: 'local_government', amount: 999999, secured: true }]
  })
  await createAction(app, city.key, a2.id, { status: 'not_started', owner_id: owner.id, due_on: day, funding: [{ source_type: 'state_grant', amount: 10000, secured: true }] })
  await createAction(app, city.key, b1.id, { status: 'at_risk', progress: 20, budget: { amount: 80000 } })

  const tree = await getTree(app, city.key, plan.id)
  const goal = (id: string) => tree.goals.find((g: { id: string }) => g.id === id)
  const objective = (g: string, id: string) => goal(g).objectives.find((o: { id: string }) => o.id === id)
  t.same(rollupOf(objective(goalA.id, a1.id)), {
    actions: 3,
    progress: 70,
    by_status: { ...zeroStatus, on_track: 1, completed: 1, cancelled: 1 },
    overdue: 1,
    without_owner: 1,
    budget_total: 150000,
    funding_secured: 130000,
    funding_needed: 20000,
    local_funding_share: 0.6154
  }, 'objective A1: cancelled left out, completed counts 100, only the open action past due is overdue')
  t.same(rollupOf(objective(goalA.id, a2.id)), {
    actions: 1,
    progress: 0,
    by_status: { ...zeroStatus, not_started: 1 },
    overdue: 0,
    without_owner: 0,
    budget_total: 0,
    funding_secured: 10000,
    funding_needed: 0,
    local_funding_share: 0
  }, 'objective A2: due today is not overdue; funding beyond a budget needs nothing')
  t.same(rollupOf(goal(goalA.id)), {
    actions: 4,
    progress: 46.7,
    by_status: { ...zeroStatus, on_track: 1, completed: 1, cancelled: 1, not_started: 1 },
    overdue: 1,
    without_owner: 1,
    budget_total: 150000,
    funding_secured: 140000,
    funding_needed: 20000,
    local_funding_share: 0.5714
  }, 'goal A')
  t.same(rollupOf(goal(goalB.id)), {
    actions: 1,
    progress: 20,
    by_status: { ...zeroStatus, at_risk: 1 },
    overdue: 0,
    without_owner: 1,
    budget_total: 80000,
    funding_secured: 0,
    funding_needed: 80000,
    local_funding_share: null
  }, 'goal B: nothing secured, so no local share')
  t.same(rollupOf(goal(goalC.id)), {
    actions: 0, progress: null, by_status: zeroStatus, overdue: 0, without_owner: 0, budget_total: 0, funding_secured: 0, funding_needed: 0, local_funding_share: null
  }, 'goal C: no actions')
  t.same(rollupOf(tree), {
    actions: 5,
    progress: 40,
    by_status: { not_started: 1, on_track: 1, at_risk: 1, off_track: 0, completed: 1, cancelled: 1 },
    overdue: 1,
    without_owner: 2,
    budget_total: 230000,
    funding_secured: 140000,
    funding_needed: 100000,
    local_funding_share: 0.5714
  }, 'the plan')
})

t.test('overdue is judged by the city\'s day: due yesterday there is overdue, due today is not, whatever the day in UTC', async (t) => {
  const zones = ['Pacific/Kiritimati', 'Pacific/Pago_Pago'] as const
  // A day that is already yesterday at UTC+14, and still today or tomorrow at UTC-11 (25 hours apart).
  const shared = addDays(today('Pacific/Kiritimati'), -1)
  for (const zone of zones) {
    const city = await makeCityWithKey(db, [...WRITER])
    await setTimezone(db, city.id, zone)
    const day = localDate(new Date(), zone)
    const objective = await createObjective(app, city.key, (await createGoal(app, city.key, (await createPlan(app, city.key)).id)).id)
    const yesterday = await createAction(app, city.key, objective.id, { title: 'due yesterday', due_on: addDays(day, -1) })
    const dueToday = await createAction(app, city.key, objective.id, { title: 'due today', due_on: day })
    const done = await createAction(app, city.key, objective.id, { title: 'done late', due_on: addDays(day, -1), status: 'completed' })
    const sharedDay = await createAction(app, city.key, objective.id, { title: 'due on the shared day', due_on: shared })
    t.equal(yesterday.overdue, true, `${zone}: due yesterday is overdue`)
    t.equal(dueToday.overdue, false, `${zone}: due today is not`)
    t.equal(done.overdue, false, `${zone}: a completed action is never overdue`)
    t.equal(sharedDay.overdue, zone === 'Pacific/Kiritimati', `${zone}: ${shared} is past only where the day has moved on`)
    const listed = await send(app, city.key, 'GET', '/v1/actions?overdue=true')
    const expected = zone === 'Pacific/Kiritimati' ? [yesterday.id, sharedDay.id] : [yesterday.id]
    t.same(listed.json().data.map((a: { id: string }) => a.id), expected, `${zone}: overdue=true lists them`)
    const others = await send(app, city.key, 'GET', '/v1/actions?overdue=false')
    t.equal(others.json().data.length, 4 - expected.length, `${zone}: overdue=false lists the rest`)
    const tree = await getTree(app, city.key, objective.plan_id)
    t.equal(tree.rollup.overdue, expected.length, `${zone}: the roll-up counts them`)
  }
})

t.test('the tree is read in the same handful of statements whatever its size', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const small = await createPlan(app, city.key)
  const smallObjective = await createObjective(app, city.key, (await createGoal(app, city.key, small.id)).id)
  await createAction(app, city.key, smallObjective.id)
  const large = await createPlan(app, city.key, { title: 'Large', currency: 'USD' })
  const goals = Array.from({ length: 4 }, (_g, g) => ({
    external_id: `G${g}`,
    title: `Goal ${g}`,
    objectives: Array.from({ length: 5 }, (_o, o) => ({
      external_id: `G${g}-O${o}`,
      title: `Objective ${o}`,
      actions: Array.from({ length: 10 }, (_a, a) => ({ external_id: `G${g}-O${o}-A${a}`, title: `Action ${a}`, progress: a * 10, budget: { amount: 1000 } }))
    }))
  }))
  const imported = await send(app, city.key, 'POST', `/v1/action-plans/${large.id as string}/import`, { goals })
  t.equal(imported.statusCode, 200, imported.body)
  await getTree(app, city.key, small.id) // the key is cached after its first request
  const counter = countStatements(database, /./)
  let before = counter.count()
  const smallTree = await getTree(app, city.key, small.id)
  const smallCount = counter.count() - before
  before = counter.count()
  const largeTree = await getTree(app, city.key, large.id)
  const largeCount = counter.count() - before
  t.equal(smallTree.rollup.actions, 1)
  t.equal(largeTree.rollup.actions, 200)
  t.equal(largeTree.rollup.progress, 45)
  t.equal(largeTree.rollup.budget_total, 200000)
  t.equal(largeCount, smallCount, `${largeCount} statements for 200 actions, as for one`)
  t.ok(largeCount <= 6, `a handful: ${largeCount}`)
})
