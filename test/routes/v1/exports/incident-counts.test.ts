import { parse } from 'csv-parse/sync'
import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { addIncidents } from '../kpis/fixtures.js'

const { app, database } = await build(t)
const db = database.db

interface Row { period_start: string, period_end: string, bias_category: string | null, neighborhood: string | null, count: number | null, suppressed: boolean }

/** Three neighbourhoods over the first quarter of 2025, with small cells in two of them. */
async function cityWithIncidents () {
  const city = await makeCityWithKey(db, ['exports:read'])
  const spec = (neighborhood: string, month: string, count: number, category = 'race_ethnicity_ancestry') =>
    ({ occurredOn: `2025-${month}-10`, neighborhood, count, categories: [category] })
  await addIncidents(db, city.id, [
    spec('Harbor', '01', 15), spec('Harbor', '02', 15), spec('Harbor', '03', 15),
    spec('Hillside', '01', 3, 'religion'), spec('Hillside', '02', 12, 'religion'), spec('Hillside', '03', 11),
    spec('Old Town', '01', 12), spec('Old Town', '02', 2, 'sexual_orientation'), spec('Old Town', '03', 14),
    { occurredOn: '2025-01-11', neighborhood: 'Hillside', count: 5, includeInStatistics: false }
  ])
  return city
}

const counts = async (key: string, search: string): Promise<Row[]> => {
  const res = await app.inject({ method: 'GET', url: `/v1/exports/incident-counts${search}&format=ndjson`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Row)
}

t.test('every combination is listed, small counts hidden with count null, and the CSV parses back', async (t) => {
  const city = await cityWithIncidents()
  const res = await app.inject({ method: 'GET', url: '/v1/exports/incident-counts?from=2025-01&to=2025-03&group_by=month,neighborhood&format=csv', headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  const rows: Array<Record<string, string>> = parse(res.body, { columns: true, skip_empty_lines: true })
  t.equal(rows.length, 9, 'three months by three neighbourhoods')
  const cell = (month: string, place: string) => rows.find((r) => r.period_start === `2025-${month}-01` && r.neighborhood === place)
  t.match(cell('01', 'Hillside'), { count: '', suppressed: 'true' }, '3 is hidden (the opted-out 5 never count)')
  t.match(cell('02', 'Old Town'), { count: '', suppressed: 'true' })
  t.match(cell('01', 'Harbor'), { bias_category: '' }, 'not grouped by category: all categories')
  t.notOk(rows.some((r) => r.count === '3' || r.count === '2' || r.count === '8'), 'no small count and not the count with opted-out reports')
})

t.test('answers grouped differently come from one suppression of the full cut: no hidden cell is a difference of shown ones', async (t) => {
  const city = await cityWithIncidents()
  const byMonth = await counts(city.key, '?from=2025-01&to=2025-03&group_by=month')
  const byMonthPlace = await counts(city.key, '?from=2025-01&to=2025-03&group_by=month,neighborhood')
  const byPlace = await counts(city.key, '?from=2025&to=2025&group_by=neighborhood')
  const byAll = await counts(city.key, '?from=2025-01&to=2025-03&group_by=month,bias_category,neighborhood')
  for (const month of ['01', '02', '03']) {
    const total = byMonth.find((r) => r.period_start === `2025-${month}-01`) as Row
    const cells = byMonthPlace.filter((r) => r.period_start === `2025-${month}-01`)
    const hidden = cells.filter((r) => r.suppressed)
    if (!total.suppressed) {
      t.not(hidden.length, 1, `month ${month}: a shown total never has exactly one hidden neighbourhood`)
      const shownSum = cells.reduce((sum, r) => sum + (r.count ?? 0), 0)
      if (hidden.length > 0) t.ok((total.count as number) - shownSum >= 10, `month ${month}: the hidden neighbourhoods add up to at least the threshold`)
    }
  }
  for (const place of ['Harbor', 'Hillside', 'Old Town']) {
    const year = byPlace.find((r) => r.neighborhood === place) as Row
    const months = byMonthPlace.filter((r) => r.neighborhood === place)
    const hidden = months.filter((r) => r.suppressed)
    if (!year.suppressed) {
      t.not(hidden.length, 1, `${place}: a shown year never has exactly one hidden month`)
      const shownSum = months.reduce((sum, r) => sum + (r.count ?? 0), 0)
      if (hidden.length > 0) t.ok((year.count as number) - shownSum >= 10, `${place}: the hidden months add up to at least the threshold`)
    }
  }
  // The inner cells by category agree with their neighbourhood's month: a category alone in it is hidden with it.
  const hillsideJanuary = byAll.filter((r) => r.period_start === '2025-01-01' && r.neighborhood === 'Hillside' && r.bias_category === 'religion')
  t.equal(hillsideJanuary[0]?.suppressed, true)
  t.ok(byAll.every((r) => r.count === null || r.count === 0 || r.count >= 10), 'no small count shown in the finest cut')
})

t.test('without month the range is whole years; bad group_by is a 400; the export needs exports:read', async (t) => {
  const city = await cityWithIncidents()
  const partial = await app.inject({ method: 'GET', url: '/v1/exports/incident-counts?from=2025-02&to=2025-12&group_by=neighborhood', headers: bearer(city.key) })
  t.equal(partial.statusCode, 422)
  t.equal((await app.inject({ method: 'GET', url: '/v1/exports/incident-counts?group_by=victim', headers: bearer(city.key) })).statusCode, 400)
  const reader = await makeKey(db, city.id, ['incidents:read', 'kpis:read'])
  t.equal((await app.inject({ method: 'GET', url: '/v1/exports/incident-counts?from=2025', headers: bearer(reader.key) })).statusCode, 403)
  const other = await makeCityWithKey(db, ['exports:read'])
  const theirs = await counts(other.key, '?from=2025&to=2025&group_by=neighborhood')
  t.same(theirs.map((r) => r.neighborhood), [], 'another city lists none of these neighbourhoods')
  const schema = await app.inject({ method: 'GET', url: '/v1/exports/incident-counts/schema', headers: bearer(city.key) })
  t.same(schema.json().fields.map((f: { name: string }) => f.name), ['period_start', 'period_end', 'bias_category', 'neighborhood', 'count', 'suppressed'])
})

t.test('incidents with no neighbourhood or no bias category are counted under "(not recorded)", never dropped', async (t) => {
  const city = await makeCityWithKey(db, ['exports:read'])
  await addIncidents(db, city.id, [
    { occurredOn: '2025-06-10', neighborhood: null, count: 12, categories: [] },
    { occurredOn: '2025-06-11', neighborhood: 'Harbor', count: 15 }
  ])
  const rows = await counts(city.key, '?from=2025&to=2025&group_by=bias_category,neighborhood')
  const cell = (category: string, place: string) => rows.find((r) => r.bias_category === category && r.neighborhood === place)
  t.match(cell('(not recorded)', '(not recorded)'), { count: 12, suppressed: false })
  t.match(cell('race_ethnicity_ancestry', 'Harbor'), { count: 15, suppressed: false })
  t.match(cell('race_ethnicity_ancestry', '(not recorded)'), { count: 0, suppressed: false })
  const total = await counts(city.key, '?from=2025&to=2025&group_by=month')
  t.equal(total.find((r) => r.period_start === '2025-06-01')?.count, 27)
})
