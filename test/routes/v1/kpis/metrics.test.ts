import t from 'tap'
import { build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { addIncidents, byPeriod, changeStakeholder, createKpi, kpi, meetingOn, relationship, series, setCity, stakeholderSince } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

/** A city whose threshold of 1 hides nothing, so that the metrics' own arithmetic is what the tests see. */
async function openCity (population: number | null = 200000) {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read', 'surveys:read', 'plans:read'])
  await setCity(db, city.id, { threshold: 1, population })
  return city
}

const values = async (key: string, id: string, query: string): Promise<Map<string, any>> => {
  const res = await series(app, key, id, query)
  if (res.statusCode !== 200) throw new Error(res.body)
  return byPeriod(res.json())
}

t.test('incident_count counts by the day it happened, with each filter, and never counts opted-out, duplicate or unfounded reports', async (t) => {
  const city = await openCity()
  await addIncidents(db, city.id, [
    { occurredOn: '2025-01-03', type: 'hate_crime', categories: ['religion'], codes: ['22'], status: 'verified', neighborhood: 'Downtown' },
    { occurredOn: '2025-01-31', type: 'bias_incident', categories: ['race_ethnicity_ancestry', 'religion'], codes: ['14', '22'], neighborhood: 'Downtown', online: true },
    { occurredOn: '2025-01-15', type: 'bias_incident', categories: ['sexual_orientation'], codes: ['41'], neighborhood: 'Harbor', online: true },
    { occurredOn: '2025-02-01', type: 'hate_crime', categories: ['religion'], codes: ['23'], neighborhood: 'Harbor' },
    { occurredOn: '2025-01-10', includeInStatistics: false },
    { occurredOn: '2025-01-11', resolution: 'unfounded', status: 'unfounded' },
    { occurredOn: '2024-12-31' }
  ])
  const cases: Array<[Record<string, unknown>, number, number]> = [
    [{}, 3, 1],
    [{ incident_type: ['hate_crime'] }, 1, 1],
    [{ bias_category: ['religion'] }, 2, 1],
    [{ bias_code: ['22'] }, 2, 0],
    [{ status: ['verified'] }, 1, 0],
    [{ neighborhood: ['Harbor'] }, 1, 1],
    [{ online: true }, 2, 0],
    [{ online: false, bias_category: ['religion'] }, 1, 1]
  ]
  for (const [parameters, january, february] of cases) {
    const created = await createKpi(app, city.key, kpi({ parameters }))
    const p = await values(city.key, created.id, 'from=2025-01&to=2025-02')
    t.equal(p.get('2025-01').value, january, `January ${JSON.stringify(parameters)}`)
    t.equal(p.get('2025-02').value, february, `February ${JSON.stringify(parameters)}`)
    t.equal(p.get('2025-01').numerator, january)
  }
})

t.test('incident_rate is per 100,000 residents of the city, and null with a reason without a population', async (t) => {
  const city = await openCity(200000)
  await addIncidents(db, city.id, [{ occurredOn: '2025-03-02', count: 30 }, { occurredOn: '2025-04-20', count: 6 }])
  const rate = await createKpi(app, city.key, kpi({ metric: 'incident_rate', unit: 'rate_per_100k' }))
  const p = await values(city.key, rate.id, 'from=2025-03&to=2025-04')
  t.match(p.get('2025-03'), { value: 15, numerator: 30, denominator: 200000, reason: null })
  t.match(p.get('2025-04'), { value: 3, numerator: 6, denominator: 200000 })
  const q = await values(city.key, rate.id, 'from=2025-Q2&to=2025-Q2&period=quarter')
  t.match(q.get('2025-Q2'), { value: 3, numerator: 6, denominator: 200000 }, 'a quarter sums the incidents over the same population')
  await setCity(db, city.id, { population: null })
  const none = await values(city.key, rate.id, 'from=2025-03&to=2025-03')
  t.match(none.get('2025-03'), { value: null, numerator: 30, denominator: null, reason: 'population_missing', status: null })
})

t.test('incident_referred_share counts incidents referred by the period\'s end, over the incidents of the period', async (t) => {
  const city = await openCity()
  await addIncidents(db, city.id, [
    { occurredOn: '2025-01-05', count: 6, referredOn: '2025-01-20' },
    { occurredOn: '2025-01-25', count: 2, referredOn: '2025-02-03' },
    { occurredOn: '2025-01-08', count: 2 },
    { occurredOn: '2025-02-08', count: 4, referredOn: '2025-02-09' },
    { occurredOn: '2025-01-09', count: 3, referredOn: '2025-01-10', includeInStatistics: false }
  ])
  const share = await createKpi(app, city.key, kpi({ metric: 'incident_referred_share', unit: 'percent', direction: 'increase' }))
  const p = await values(city.key, share.id, 'from=2025-01&to=2025-02')
  t.match(p.get('2025-01'), { value: 60, numerator: 6, denominator: 10 })
  t.match(p.get('2025-02'), { value: 100, numerator: 4, denominator: 4 })
  const q = await values(city.key, share.id, 'from=2025-Q1&to=2025-Q1&period=quarter')
  t.match(q.get('2025-Q1'), { value: 71.4286, numerator: 10, denominator: 14 }, 'the quarter is recomputed from the months\' summed numerators and denominators')
  const empty = await values(city.key, share.id, 'from=2025-03&to=2025-03')
  t.match(empty.get('2025-03'), { value: null, numerator: 0, denominator: 0, reason: 'empty_denominator' })
})

t.test('a past period is computed from what was true at its end: legs, leadership group and cross-leg ties', async (t) => {
  const city = await openCity()
  const police = await stakeholderSince(db, city.id, '2024-01-05', { category: 'law_enforcement', engagementLevel: 'active' })
  const mayor = await stakeholderSince(db, city.id, '2024-02-10', { category: 'elected_official', engagementLevel: 'leading', leadershipRole: 'chair', leadershipJoinedOn: '2024-02-10' })
  const group = await stakeholderSince(db, city.id, '2024-01-01', { category: 'community_organization', engagementLevel: 'aware', leadershipRole: 'member', leadershipJoinedOn: '2024-01-01' })
  await changeStakeholder(db, city.id, police, '2024-04-15', { engagementLevel: 'aware' })
  await changeStakeholder(db, city.id, group, '2024-03-20', { engagementLevel: 'active' })
  await changeStakeholder(db, city.id, group, '2024-05-02', { leadershipLeftOn: '2024-05-02' })
  await relationship(db, city.id, police, group, { since: '2024-02-01', until: '2024-03-31' })
  await relationship(db, city.id, mayor, group, { since: '2024-03-01' })
  await relationship(db, city.id, group, mayor, { since: '2024-01-01', type: 'trust' })

  const legs = await createKpi(app, city.key, kpi({ metric: 'legs_with_active_member', direction: 'increase' }))
  const l = await values(city.key, legs.id, 'from=2024-01&to=2024-05')
  t.same([...l.values()].map((p) => p.value), [1, 2, 3, 2, 2], 'police from January, mayor from February, the group active from March; police only aware from April')
  t.equal(l.get('2024-03').denominator, 4)
  const yearly = await values(city.key, legs.id, 'from=2024-Q1&to=2024-Q2&period=quarter')
  t.same([yearly.get('2024-Q1').value, yearly.get('2024-Q2').value], [3, 2], 'a quarter takes the state at its end')

  const size = await createKpi(app, city.key, kpi({ metric: 'leadership_group_size', direction: 'increase' }))
  const s = await values(city.key, size.id, 'from=2024-01&to=2024-06')
  t.same([...s.values()].map((p) => p.value), [1, 2, 2, 2, 1, 1], 'the mayor joined in February; the member who left on 2024-05-02 is no longer in at the end of May')

  const ties = await createKpi(app, city.key, kpi({ metric: 'cross_leg_ties', direction: 'increase' }))
  const c = await values(city.key, ties.id, 'from=2024-01&to=2024-04')
  t.same([...c.values()].map((p) => p.value), [0, 2, 2, 1], 'January: the mayor is not recorded yet; February: police–group and mayor–group; April: the police tie ended in March')
  const strong = await createKpi(app, city.key, kpi({ metric: 'cross_leg_ties', direction: 'increase', parameters: { relationship_type: ['collaboration'] } }))
  const sc = await values(city.key, strong.id, 'from=2024-02&to=2024-03')
  t.same([...sc.values()].map((p) => p.value), [1, 2])
})

t.test('meetings_held counts meetings by the day they were held and their kind', async (t) => {
  const city = await openCity()
  await meetingOn(db, city.id, '2025-05-01')
  await meetingOn(db, city.id, '2025-05-31', 'workshop')
  await meetingOn(db, city.id, '2025-06-15')
  const all = await createKpi(app, city.key, kpi({ metric: 'meetings_held', direction: 'increase' }))
  const a = await values(city.key, all.id, 'from=2025-05&to=2025-06')
  t.same([a.get('2025-05').value, a.get('2025-06').value], [2, 1])
  const group = await createKpi(app, city.key, kpi({ metric: 'meetings_held', direction: 'increase', parameters: { kind: ['leadership_group'] } }))
  const g = await values(city.key, group.id, 'from=2025&to=2025&period=year')
  t.equal(g.get('2025').value, 2)
})

t.test('action metrics read the progress notes as they stood at each period\'s end, and funding from the day it was secured', async (t) => {
  const { actionOf, planOf } = await import('./fixtures.js')
  const city = await openCity()
  const plan = await planOf(db, city.id)
  await actionOf(db, city.id, plan, {
    recordedOn: '2025-01-10',
    dueOn: '2025-02-15',
    notes: [{ on: '2025-01-20', status: 'on_track' }, { on: '2025-03-05', status: 'completed' }],
    funding: [{ source_type: 'local_government', amount: 30000, secured: true, secured_on: '2025-01-15' }]
  })
  await actionOf(db, city.id, plan, {
    recordedOn: '2025-01-12',
    dueOn: '2025-03-31',
    notes: [{ on: '2025-02-10', status: 'at_risk' }],
    funding: [{ source_type: 'federal_grant', amount: 70000, secured: true, secured_on: '2025-02-20' }, { source_type: 'community_foundation', amount: 5000, secured: false }]
  })
  await actionOf(db, city.id, plan, { recordedOn: '2025-02-03', notes: [{ on: '2025-02-04', status: 'cancelled' }] })
  await actionOf(db, city.id, plan, { recordedOn: '2025-03-20', dueOn: '2025-03-25', notes: [{ on: '2025-03-21', status: 'on_track' }] })

  const completion = await createKpi(app, city.key, kpi({ metric: 'action_completion_rate', unit: 'percent', direction: 'increase', parameters: { plan_id: plan.planId } }))
  const c = await values(city.key, completion.id, 'from=2025-01&to=2025-03')
  t.match(c.get('2025-01'), { value: 0, numerator: 0, denominator: 2 })
  t.match(c.get('2025-02'), { value: 0, numerator: 0, denominator: 2 }, 'the cancelled action is left out')
  t.match(c.get('2025-03'), { value: 33.3333, numerator: 1, denominator: 3 })
  const q = await values(city.key, completion.id, 'from=2025-Q1&to=2025-Q1&period=quarter')
  t.match(q.get('2025-Q1'), { value: 33.3333, numerator: 1, denominator: 3 }, 'a quarter is its end')

  const onTrack = await createKpi(app, city.key, kpi({ metric: 'action_on_track_share', unit: 'percent', direction: 'increase' }))
  const o = await values(city.key, onTrack.id, 'from=2025-01&to=2025-03')
  t.same([o.get('2025-01').value, o.get('2025-02').value, o.get('2025-03').value], [50, 50, 50], 'January: 1 on track, 1 not started; February: 1 on track, 1 at risk; March: the completed one leaves, a new one on track')
  t.same([o.get('2025-01').denominator, o.get('2025-02').denominator, o.get('2025-03').denominator], [2, 2, 2])

  const overdue = await createKpi(app, city.key, kpi({ metric: 'action_overdue_count' }))
  const d = await values(city.key, overdue.id, 'from=2025-01&to=2025-03')
  t.same([d.get('2025-01').value, d.get('2025-02').value, d.get('2025-03').value], [0, 1, 1], 'February: due on the 15th, not completed until March; March: due the 25th, still on track')

  const funding = await createKpi(app, city.key, kpi({ metric: 'local_funding_share', unit: 'percent', direction: 'increase' }))
  const f = await values(city.key, funding.id, 'from=2025-01&to=2025-02')
  t.match(f.get('2025-01'), { value: 100, numerator: 30000, denominator: 30000 })
  t.match(f.get('2025-02'), { value: 30, numerator: 30000, denominator: 100000 }, 'the unsecured line never counts')
})

t.test('survey metrics count respondents by the day they filled the form in; small numbers of respondents are suppressed', async (t) => {
  const { surveyWith } = await import('./fixtures.js')
  const city = await openCity()
  const responses = [
    ...Array.from({ length: 6 }, () => ({ filledOn: '2025-04-03', option: 'yes', value: 4 })),
    ...Array.from({ length: 4 }, () => ({ filledOn: '2025-04-09', option: 'no', value: 1 })),
    ...Array.from({ length: 2 }, () => ({ filledOn: '2025-05-09', option: 'no', value: 2 }))
  ]
  const survey = await surveyWith(db, city.id, responses)
  const share = await createKpi(app, city.key, kpi({ metric: 'survey_option_share', unit: 'percent', direction: 'increase', parameters: { survey_id: survey, question_code: 'feel_safe', option_code: 'yes' } }))
  const s = await values(city.key, share.id, 'from=2025-04&to=2025-05')
  t.match(s.get('2025-04'), { value: 60, numerator: 6, denominator: 10 })
  t.match(s.get('2025-05'), { value: 0, numerator: 0, denominator: 2 })
  const mean = await createKpi(app, city.key, kpi({ metric: 'survey_question_mean', unit: 'score', direction: 'increase', parameters: { survey_id: survey, question_code: 'trust_police' } }))
  const m = await values(city.key, mean.id, 'from=2025-Q2&to=2025-Q2&period=quarter')
  t.match(m.get('2025-Q2'), { value: 2.6667, numerator: 32, denominator: 12 })

  await setCity(db, city.id, { threshold: 5 })
  const guarded = await makeCityWithKey(db, ['kpis:write', 'kpis:read', 'surveys:read', 'plans:read'])
  const other = await surveyWith(db, guarded.id, responses)
  const guardedMean = await createKpi(app, guarded.key, kpi({ metric: 'survey_question_mean', unit: 'score', direction: 'increase', parameters: { survey_id: other, question_code: 'trust_police' } }))
  const g = await values(guarded.key, guardedMean.id, 'from=2025-04&to=2025-05')
  t.equal(g.get('2025-05').suppressed, true, 'a mean of two answers describes two people')
  t.equal(g.get('2025-05').value, null)
})
