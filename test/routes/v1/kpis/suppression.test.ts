import t from 'tap'
import { build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { addIncidents, byPeriod, createKpi, kpi, series } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

const MONTHS = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']

/** 2025 month by month: January 12, February 3 (small), March 15, then 20 a month. */
async function cityWithIncidents () {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  await addIncidents(db, city.id, MONTHS.map((m, i) => ({ occurredOn: `2025-${m}-14`, count: [12, 3, 15][i] ?? 20 })))
  return city
}

t.test('a small count is suppressed with its numerator, denominator and status; zero is shown', async (t) => {
  const city = await cityWithIncidents()
  const created = await createKpi(app, city.key, kpi({ targets: { '2025-02': 5, '2024-12': 5 } }))
  const res = await series(app, city.key, created.id, 'from=2024-12&to=2025-03')
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().small_cell_threshold, 10)
  const p = byPeriod(res.json())
  t.same(p.get('2025-02'), { period: '2025-02', period_start: '2025-02-01', period_end: '2025-02-28', value: null, numerator: null, denominator: null, target: 5, status: null, suppressed: true, reason: null })
  t.match(p.get('2024-12'), { value: 0, suppressed: false, status: 'on_track' }, 'no incident is a shown zero')
  t.notOk(res.body.includes('"value":3'), 'the small count appears nowhere')
})

t.test('the subtraction attack fails: months, quarters and the year come from one suppression, so no hidden month is a difference of shown figures', async (t) => {
  const city = await cityWithIncidents()
  const created = await createKpi(app, city.key)
  const months = byPeriod((await series(app, city.key, created.id, 'from=2025-01&to=2025-12')).json())
  const quarters = byPeriod((await series(app, city.key, created.id, 'from=2025-Q1&to=2025-Q4&period=quarter')).json())
  const year = byPeriod((await series(app, city.key, created.id, 'from=2025&to=2025&period=year')).json())
  t.equal(months.get('2025-02').suppressed, true)
  const q1Months = ['2025-01', '2025-02', '2025-03'].map((m) => months.get(m))
  const hiddenInQ1 = q1Months.filter((p) => p.suppressed)
  t.ok(hiddenInQ1.length >= 2, 'a second month of the first quarter is hidden with February')
  // Whatever the quarter shows, the hidden months of it add up to at least the threshold: none is recovered.
  if (!quarters.get('2025-Q1').suppressed) {
    const shown = q1Months.filter((p) => !p.suppressed).reduce((sum, p) => sum + (p.value as number), 0)
    t.ok(quarters.get('2025-Q1').value - shown >= 10, 'the hidden months of Q1 are a sum of at least the threshold')
  }
  // The year minus the shown quarters never isolates one quarter with a hidden month.
  if (!year.get('2025').suppressed) {
    const hiddenQuarters = ['2025-Q1', '2025-Q2', '2025-Q3', '2025-Q4'].filter((q) => quarters.get(q).suppressed)
    t.not(hiddenQuarters.length, 1, 'not exactly one quarter hidden under a shown year')
  }
  // Ranges that overlap agree on the months they share, so a difference of two ranges reveals nothing either.
  const firstHalf = byPeriod((await series(app, city.key, created.id, 'from=2025-01&to=2025-06')).json())
  const lateYear = byPeriod((await series(app, city.key, created.id, 'from=2025-03&to=2025-12')).json())
  for (const m of ['2025-03', '2025-04', '2025-05', '2025-06']) {
    t.same(firstHalf.get(m), months.get(m), `${m} alike in both ranges`)
    t.same(lateYear.get(m), months.get(m), `${m} alike in the later range`)
  }
})

t.test('a share is suppressed when the part not counted is small: 11 of 12 referred would say one victim was not', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  await addIncidents(db, city.id, [
    { occurredOn: '2025-05-03', count: 11, referredOn: '2025-05-10' },
    { occurredOn: '2025-05-04', count: 1 },
    { occurredOn: '2025-06-03', count: 20, referredOn: '2025-06-10' },
    { occurredOn: '2025-06-04', count: 20 },
    { occurredOn: '2025-07-03', count: 15, referredOn: '2025-07-10' },
    { occurredOn: '2025-07-04', count: 15 }
  ])
  const share = await createKpi(app, city.key, kpi({ metric: 'incident_referred_share', unit: 'percent', direction: 'increase' }))
  const p = byPeriod((await series(app, city.key, share.id, 'from=2025-05&to=2025-07')).json())
  t.match(p.get('2025-05'), { suppressed: true, value: null, numerator: null, denominator: null })
  t.equal([p.get('2025-06'), p.get('2025-07')].filter((x) => x.suppressed).length, 1, 'one more month of the quarter is hidden to protect May')
})

t.test('reports whose reporters opted out of statistics never count, even when they would tip a count over the threshold', async (t) => {
  const city = await makeCityWithKey(db, ['kpis:write', 'kpis:read'])
  await addIncidents(db, city.id, [
    { occurredOn: '2025-08-01', count: 10 },
    { occurredOn: '2025-08-02', count: 5, includeInStatistics: false },
    { occurredOn: '2025-09-01', count: 8 },
    { occurredOn: '2025-09-02', count: 4, includeInStatistics: false }
  ])
  const created = await createKpi(app, city.key)
  const p = byPeriod((await series(app, city.key, created.id, 'from=2025-08&to=2025-09')).json())
  t.ok(p.get('2025-08').suppressed === true || p.get('2025-08').value === 10, 'August counts 10, never the opted-out reports')
  t.equal(p.get('2025-09').suppressed, true, 'September counts 8, not 12: suppressed')
})
