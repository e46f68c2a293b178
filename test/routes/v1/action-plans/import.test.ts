import t from 'tap'
import { build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { countRows, createPlan, getTree, send, WRITER } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

/** A plan as a city's spreadsheet holds it: two goals, three objectives, four actions, owners by external id. */
const spreadsheet = () => ({
  goals: [
    {
      external_id: 'G1',
      title: 'Residents report hate safely',
      description: 'Reporting that reaches the city, in residents\' languages.',
      objectives: [
        {
          external_id: 'O1.1',
          title: 'A report form in four languages',
          actions: [
            { external_id: 'A1', title: 'Publish the form', owner_external_id: 'st-city', partner_external_ids: ['st-ngo'], horizon: 'near_term', due_on: '2025-06-30', budget: { amount: 200000 } },
            { external_id: 'A2', title: 'Train 311 staff', description: 'Two sessions.', owner_external_id: 'st-ngo', funding: [{ source_type: 'local_government', amount: 5000, secured: true }] }
          ]
        },
        { external_id: 'O1.2', title: 'Referral to victim support', actions: [{ external_id: 'A3', title: 'Agree referral paths' }] }
      ]
    },
    {
      external_id: 'G2',
      title: 'A leadership group that lasts',
      objectives: [{ external_id: 'O2.1', title: 'A budget line', actions: [{ external_id: 'A4', title: 'Propose the line to council', horizon: 'medium_term' }] }]
    }
  ]
})

const counts = async (cityId: string): Promise<number[]> =>
  [await countRows(db, 'goals', cityId), await countRows(db, 'objectives', cityId), await countRows(db, 'actions', cityId)]

async function setUp (): Promise<{ key: string, cityId: string, planId: string, cityStaff: string, ngo: string }> {
  const city = await makeCityWithKey(db, [...WRITER, 'stakeholders:read'])
  const cityStaff = await makeStakeholder(db, city.id, { externalId: 'st-city', category: 'city_staff', kind: 'person' })
  const ngo = await makeStakeholder(db, city.id, { externalId: 'st-ngo' })
  const plan = await createPlan(app, city.key)
  return { key: city.key, cityId: city.id, planId: plan.id, cityStaff: cityStaff.id, ngo: ngo.id }
}

const importTree = async (key: string, planId: string, body: unknown, query = '') => await send(app, key, 'POST', `/v1/action-plans/${planId}/import${query}`, body)

t.test('a tree imports whole, owners and partners named by stakeholder external_id, and imports again without duplicates', async (t) => {
  const { key, cityId, planId, cityStaff, ngo } = await setUp()
  const first = await importTree(key, planId, spreadsheet())
  t.equal(first.statusCode, 200, first.body)
  t.same(first.json().summary, { created: 9, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  t.same(first.json().actions.map((a: { external_id: string, outcome: string }) => [a.external_id, a.outcome]), [['A1', 'created'], ['A2', 'created'], ['A3', 'created'], ['A4', 'created']])
  t.same(await counts(cityId), [2, 3, 4])
  const tree = await getTree(app, key, planId)
  const a1 = tree.goals[0].objectives[0].actions[0]
  t.match(a1, { external_id: 'A1', owner_id: cityStaff, partner_ids: [ngo], budget: { amount: 200000, currency: 'USD' } })
  t.equal(tree.goals[1].objectives[0].actions[0].external_id, 'A4')

  const again = await importTree(key, planId, spreadsheet())
  t.same(again.json().summary, { created: 0, updated: 0, unchanged: 9, accepted: 0, rejected: 0 }, 'the same spreadsheet again changes nothing')
  t.same(again.json().actions.map((a: { id: string }) => a.id), first.json().actions.map((a: { id: string }) => a.id), 'the same ids')
  t.same(await counts(cityId), [2, 3, 4])
})

t.test('a re-import updates what changed, keeps what a node omits, and moves a node under its new parent', async (t) => {
  const { key, cityId, planId } = await setUp()
  await importTree(key, planId, spreadsheet())
  const changed = spreadsheet()
  const goal1 = changed.goals[0] as any
  delete goal1.description
  const a2 = goal1.objectives[0].actions[1]
  a2.title = 'Train 311 and police desk staff'
  delete a2.description
  // O1.2 moves under G2.
  const moved = goal1.objectives.pop()
  ;(changed.goals[1] as any).objectives.push(moved)
  const res = await importTree(key, planId, changed)
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json().summary, { created: 0, updated: 3, unchanged: 6, accepted: 0, rejected: 0 })
  const tree = await getTree(app, key, planId)
  t.equal(tree.goals[0].description, 'Reporting that reaches the city, in residents\' languages.', 'an omitted field keeps its stored value')
  t.match(tree.goals[0].objectives[0].actions[1], { title: 'Train 311 and police desk staff', description: 'Two sessions.' })
  t.same(tree.goals[1].objectives.map((o: { external_id: string }) => o.external_id).sort(), ['O1.2', 'O2.1'])
  t.same(await counts(cityId), [2, 3, 4])
})

t.test('dry_run answers the outcomes and writes nothing, even for nodes under new parents', async (t) => {
  const { key, cityId, planId } = await setUp()
  const dry = await importTree(key, planId, spreadsheet(), '?dry_run=true')
  t.equal(dry.statusCode, 200, dry.body)
  t.equal(dry.json().dry_run, true)
  t.same(dry.json().summary, { created: 9, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  t.same(await counts(cityId), [0, 0, 0])
  const bad = spreadsheet()
  ;(bad.goals[0] as any).objectives[0].actions[0].owner_external_id = 'nobody'
  const dryBad = await importTree(key, planId, bad, '?dry_run=true')
  t.equal(dryBad.statusCode, 200)
  t.same(dryBad.json().summary, { created: 8, updated: 0, unchanged: 0, accepted: 0, rejected: 1 })
  t.same(dryBad.json().actions[0].problems, [{ path: '/body/goals/0/objectives/0/actions/0/owner_external_id', message: 'is not the external_id of a stakeholder of this city' }])
  t.same(await counts(cityId), [0, 0, 0])
})

t.test('a rejected node rejects the import with a 422 naming it, and nothing is written', async (t) => {
  const { key, cityId, planId } = await setUp()
  const other = await makeCityWithKey(db, [...WRITER, 'stakeholders:read'])
  await makeStakeholder(db, other.id, { externalId: 'st-elsewhere' })
  const bad = spreadsheet()
  ;(bad.goals[1] as any).objectives[0].actions[0].owner_external_id = 'st-elsewhere'
  ;(bad.goals[0] as any).objectives[0].actions[1].funding[0].currency = 'EUR'
  const res = await importTree(key, planId, bad)
  expectProblem(t, res, 422, 'unprocessable', 'another city\'s owner and another currency')
  t.same(res.json().errors.map((e: { path: string }) => e.path).sort(), [
    '/body/goals/0/objectives/0/actions/1/funding/0/currency',
    '/body/goals/1/objectives/0/actions/0/owner_external_id'
  ])
  t.same(await counts(cityId), [0, 0, 0], 'not even the valid goals')
  const repeated = spreadsheet()
  ;(repeated.goals[1] as any).objectives[0].external_id = 'O1.1'
  const dup = await importTree(key, planId, repeated)
  expectProblem(t, dup, 422, 'unprocessable', 'an external_id twice in a plan')
  t.match(dup.json().errors[0], { path: '/body/goals/1/objectives/0/external_id' })
  const missing = await importTree(key, planId, { goals: [{ title: 'no external id' }] })
  expectProblem(t, missing, 400, 'validation_failed', 'a node without external_id')
  t.same(await counts(cityId), [0, 0, 0])
})

t.test('an import into another city\'s plan is a 404 and writes nothing', async (t) => {
  const { planId, cityId } = await setUp()
  const other = await makeCityWithKey(db, [...WRITER, 'stakeholders:read'])
  const res = await importTree(other.key, planId, spreadsheet())
  expectProblem(t, res, 404, 'not_found', 'another city\'s plan')
  t.same(await counts(cityId), [0, 0, 0])
  t.same(await counts(other.id), [0, 0, 0])
})

t.test('an import sent again with the same Idempotency-Key replays its answer', async (t) => {
  const { key, cityId, planId } = await setUp()
  const headers = { 'idempotency-key': 'plan-import-1' }
  const first = await send(app, key, 'POST', `/v1/action-plans/${planId}/import`, spreadsheet(), headers)
  t.equal(first.statusCode, 200, first.body)
  const replay = await send(app, key, 'POST', `/v1/action-plans/${planId}/import`, spreadsheet(), headers)
  t.equal(replay.statusCode, 200)
  t.same(replay.json(), first.json(), 'the first answer, created outcomes and all')
  t.same(await counts(cityId), [2, 3, 4])
})
