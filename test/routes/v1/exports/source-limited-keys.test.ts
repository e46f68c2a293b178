import t from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createIncident, patchIncident, report, type Report } from '../incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

/**
 * The reports of one city, in the order they are made: the partner's (source ngo-a) and another partner's
 * (ngo-b) on the same days, so that every page and every filter mixes them. ngo-b's reports carry a
 * neighbourhood and platform found nowhere else, to be looked for in the raw answer.
 */
const REPORTS: Array<{ source: 'ngo-a' | 'ngo-b', body: Report, reviewed?: boolean }> = [
  { source: 'ngo-a', body: { occurred_on: '2024-01-15', bias_motivations: ['14'], location: { location_type: '57', neighborhood: 'Downtown', census_tract: '0215.02' } } },
  { source: 'ngo-b', body: { occurred_on: '2024-01-15', bias_motivations: ['14'], location: { location_type: '57', neighborhood: 'Theirs Heights', census_tract: '0999.01' } } },
  { source: 'ngo-b', body: { occurred_on: '2024-02-20', bias_motivations: ['21'], location: { location_type: '58' }, online: { is_online: true, platform: 'TheirsNet' } }, reviewed: true },
  { source: 'ngo-a', body: { occurred_on: '2024-02-20', bias_motivations: ['21', '14'], offense_types: ['13B'], location: { location_type: '20', neighborhood: 'North End' } }, reviewed: true },
  { source: 'ngo-a', body: { occurred_on: '2024-03-10', incident_type: 'hate_crime', bias_motivations: ['32'], victim: { count: 2, type: 'individual' } } },
  { source: 'ngo-b', body: { occurred_on: '2024-03-10', incident_type: 'hate_crime', bias_motivations: ['32'], location: { location_type: '57', neighborhood: 'Theirs Heights' } } },
  { source: 'ngo-b', body: { occurred_on: '2024-05-01', bias_motivations: ['14'], location: { location_type: '57', neighborhood: 'Theirs Heights' } } },
  { source: 'ngo-a', body: { occurred_on: '2024-04-30', bias_motivations: ['14'], location: { location_type: '13', neighborhood: 'Downtown' } }, reviewed: true }
]

/** The same report text in every world: external ids are per city, so each world may reuse them. */
const BODIES = REPORTS.map((r) => report({ ...r.body, source: r.source, summary: 'A public summary.' }))

/**
 * A city whose incidents are REPORTS (without ngo-b's when `otherSource` is false), made by the city's own key
 * in the same order either way, some moved to under_review; and a key limited to ngo-a holding exports:read_records.
 */
async function world (otherSource: boolean): Promise<{ cityId: string, slug: string, cityKey: string, partnerKey: string }> {
  const city = await makeCityWithKey(db)
  for (const [i, r] of REPORTS.entries()) {
    if (r.source === 'ngo-b' && !otherSource) continue
    const created = await createIncident(app, city.key, BODIES[i] as Report)
    if (r.reviewed === true) {
      const res = await patchIncident(app, city.key, created.id as string, '*', { status: 'under_review' })
      if (res.statusCode !== 200) throw new Error(`review failed: ${res.body}`)
    }
  }
  const partner = await makeKey(db, city.id, ['exports:read_records'], { sources: ['ngo-a'] })
  return { cityId: city.id, slug: city.slug, cityKey: city.key, partnerKey: partner.key }
}

const both = await world(true)
const alone = await world(false)

const exportOf = async (key: string, search: string) =>
  await app.inject({ method: 'GET', url: `/v1/exports/incidents${search}`, headers: bearer(key) })

/** The rows of an answer in either format, as objects (the CSV header names the keys). */
function rowsOf (body: string, format: 'csv' | 'ndjson'): Array<Record<string, unknown>> {
  if (format === 'ndjson') return body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
  const [header = '', ...lines] = body.split('\r\n').filter((l) => l !== '')
  const names = header.split(',')
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i], cell])))
}

const SEARCHES = ['', '?status=under_review', '?status=received', '?from=2024-02-01&to=2024-04-30', '?from=2024-03-10']

t.test('the world holds the other source\'s incidents: a city-wide key exports them', async (t) => {
  const res = await exportOf(both.cityKey, '?format=ndjson')
  t.equal(res.statusCode, 200)
  t.equal(rowsOf(res.body, 'ndjson').filter((r) => r.source === 'ngo-b').length, 4)
})

for (const format of ['csv', 'ndjson'] as const) {
  t.test(`a key limited to ngo-a exports only ngo-a's incidents as ${format}, whatever the filter, and none of ngo-b's rows or values`, async (t) => {
    for (const search of SEARCHES) {
      const url = `${search}${search === '' ? '?' : '&'}format=${format}`
      const res = await exportOf(both.partnerKey, url)
      t.equal(res.statusCode, 200, url)
      const rows = rowsOf(res.body, format)
      t.ok(rows.every((r) => r.source === 'ngo-a'), `${url}: every row is ngo-a's`)
      t.notMatch(res.body, /ngo-b|Theirs Heights|TheirsNet|0999\.01/, `${url}: nothing of ngo-b's reports is in the file`)
      const everyone = rowsOf((await exportOf(both.cityKey, url)).body, format)
      t.same(rows, everyone.filter((r) => r.source === 'ngo-a'), `${url}: exactly the city's ngo-a rows, in the same order`)
    }
  })

  t.test(`the ${format} export of a key limited to ngo-a is byte for byte the one of a city where ngo-b never reported`, async (t) => {
    for (const search of SEARCHES) {
      const url = `${search}${search === '' ? '?' : '&'}format=${format}`
      const mixed = await exportOf(both.partnerKey, url)
      const only = await exportOf(alone.partnerKey, url)
      t.equal(mixed.statusCode, only.statusCode, `${url}: the same status`)
      t.equal(mixed.headers['content-type'], only.headers['content-type'], `${url}: the same media type`)
      t.equal(String(mixed.headers['content-disposition']).replace(both.slug, '<city>'), String(only.headers['content-disposition']).replace(alone.slug, '<city>'),
        `${url}: the same file name but for the city`)
      t.equal(mixed.body, only.body, `${url}: the same bytes`)
    }
  })
}

t.test('without format, the Accept header\'s choice is limited the same way', async (t) => {
  for (const accept of ['text/csv', 'application/x-ndjson']) {
    const mixed = await app.inject({ method: 'GET', url: '/v1/exports/incidents', headers: { ...bearer(both.partnerKey), accept } })
    const only = await app.inject({ method: 'GET', url: '/v1/exports/incidents', headers: { ...bearer(alone.partnerKey), accept } })
    t.equal(mixed.statusCode, 200, accept)
    t.equal(mixed.body, only.body, `${accept}: the same bytes as without ngo-b`)
  }
})

t.test('a key limited to both sources exports both, as the city\'s own key does', async (t) => {
  const wide = await makeKey(db, both.cityId, ['exports:read_records'], { sources: ['ngo-b', 'ngo-a'] })
  for (const format of ['csv', 'ndjson']) {
    const res = await exportOf(wide.key, `?format=${format}`)
    t.equal(res.statusCode, 200)
    t.equal(res.body, (await exportOf(both.cityKey, `?format=${format}`)).body, format)
  }
})
