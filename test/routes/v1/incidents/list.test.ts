import t, { type Test } from 'tap'
import { bearer, build } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createIncident, etagOf, patchIncident, report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['incidents:write', 'incidents:read', 'incidents:case'] as const

type Incident = Record<string, any>

async function list (key: string, query: string): Promise<Incident[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/incidents?limit=200&${query}`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(`${query}: ${res.statusCode} ${res.body}`)
  return res.json().data
}

const idsOf = (incidents: Incident[]): string[] => incidents.map((i) => i.id as string).sort()

/** Walks a list page by page with `limit`, returning every id in the order served. */
async function walk (t: Test, key: string, query: string, limit: number): Promise<Incident[]> {
  const seen: Incident[] = []
  let cursor: string | null = null
  for (let page = 0; page < 50; page++) {
    const url: string = `/v1/incidents?limit=${limit}&${query}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
    const res = await app.inject({ method: 'GET', url, headers: bearer(key) })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.ok(body.data.length <= limit, 'a page holds at most limit items')
    seen.push(...body.data)
    cursor = body.next_cursor
    // A list ends with a null cursor; the change feed never ends, and a short page means it is up to date.
    if (cursor === null || body.data.length < limit) return seen
  }
  throw new Error('the walk did not end')
}

t.test('each list filter narrows to exactly the matching incidents', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const a = await createIncident(app, city.key, report({ source: 'ngo-a', incident_type: 'hate_crime', offense_types: ['13B'], bias_motivations: ['14'], occurred_on: '2024-01-10', location: { neighborhood: 'Downtown' } }))
  const b = await createIncident(app, city.key, report({ source: 'ngo-b', incident_type: 'bias_incident', bias_motivations: ['21'], occurred_on: '2024-02-15', location: { location_type: '58', neighborhood: 'West Side' }, online: { is_online: true, platform: 'Instagram' } }))
  const c = await createIncident(app, city.key, report({ source: 'resident-portal', incident_type: 'undetermined', bias_motivations: ['14', '41'], occurred_on: '2024-03-20', location: { neighborhood: 'Downtown' } }))
  const d = await createIncident(app, city.key, report({ source: 'ngo-a', incident_type: 'bias_incident', bias_motivations: ['62'], occurred_on: '2024-03-25', location: { neighborhood: 'North End' }, online: { is_online: true } }))
  const patched = await patchIncident(app, city.key, c.id, await etagOf(app, city.key, c.id), { status: 'under_review' })
  t.equal(patched.statusCode, 200)
  const other = await makeCityWithKey(db, [...WRITER])
  await createIncident(app, other.key, report({ bias_motivations: ['14'], occurred_on: '2024-01-10', location: { neighborhood: 'Downtown' } }))

  const cases: Array<[string, Incident[]]> = [
    ['', [a, b, c, d]],
    ['occurred_from=2024-02-15', [b, c, d]],
    ['occurred_to=2024-02-15', [a, b]],
    ['occurred_from=2024-02-01&occurred_to=2024-03-20', [b, c]],
    ['bias_motivation=14', [a, c]],
    ['bias_motivation=62', [d]],
    ['bias_motivation=88', []],
    ['bias_category=race_ethnicity_ancestry', [a, c]],
    ['bias_category=religion', [b]],
    ['bias_category=sexual_orientation', [c]],
    ['incident_type=bias_incident', [b, d]],
    ['incident_type=hate_crime', [a]],
    ['status=under_review', [c]],
    ['status=received', [a, b, d]],
    ['neighborhood=Downtown', [a, c]],
    ['neighborhood=West%20Side', [b]],
    ['source=ngo-a', [a, d]],
    ['source=resident-portal', [c]],
    ['is_online=true', [b, d]],
    ['is_online=false', [a, c]],
    [`updated_since=${encodeURIComponent(patched.json().updated_at)}`, [c]],
    [`updated_since=${encodeURIComponent(b.updated_at)}`, [b, c, d]],
    ['source=ngo-a&bias_category=gender', [d]]
  ]
  for (const [query, expected] of cases) {
    t.same(idsOf(await list(city.key, query)), idsOf(expected), query === '' ? 'no filter: the whole city' : query)
  }
  for (const bad of ['bias_motivation=19', 'bias_category=height', 'status=open', 'occurred_from=yesterday', 'is_online=maybe', 'limit=0', 'limit=201', 'colour=red']) {
    const res = await app.inject({ method: 'GET', url: `/v1/incidents?${bad}`, headers: bearer(city.key) })
    t.equal(res.statusCode, 400, `${bad} is a 400`)
  }
})

t.test('limit=2 walks every incident once, newest occurrence first, with no duplicate or gap', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const days = ['2024-01-05', '2024-01-05', '2024-01-05', '2024-02-01', '2024-02-01', '2024-03-15', '2023-12-31']
  const created: Incident[] = []
  for (const day of days) created.push(await createIncident(app, city.key, report({ occurred_on: day })))
  const seen = await walk(t, city.key, '', 2)
  t.equal(seen.length, days.length)
  t.same(idsOf(seen), idsOf(created), 'every incident, each once')
  const keys = seen.map((i) => `${i.occurred_on as string}/${i.id as string}`)
  t.same(keys, [...keys].sort().reverse(), 'ordered by occurred_on, then id, descending')

  const filtered = await walk(t, city.key, 'occurred_from=2024-01-05&occurred_to=2024-02-01', 2)
  t.same(idsOf(filtered), idsOf(created.filter((_, i) => i < 5)), 'a filtered walk keeps its filter on every page')
})

t.test('order=updated_asc with limit=2 walks every incident once, oldest change first, and a changed one moves last', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created: Incident[] = []
  for (let i = 0; i < 7; i++) created.push(await createIncident(app, city.key, report({ occurred_on: `2024-01-0${1 + (i % 3)}` })))
  const first = created[0] as Incident
  await patchIncident(app, city.key, first.id, await etagOf(app, city.key, first.id), { summary: 'Changed last.' })

  const seen = await walk(t, city.key, 'order=updated_asc', 2)
  t.equal(seen.length, created.length, 'no incident is served twice or skipped')
  t.same(idsOf(seen), idsOf(created))
  t.equal(seen.at(-1)?.id, first.id, 'the last changed comes last')
  const stamps = seen.map((i) => i.updated_at as string)
  t.same(stamps, [...stamps].sort(), 'one change after another, so updated_at ascends too')

  const sync = await walk(t, city.key, `order=updated_asc&updated_since=${encodeURIComponent(created[3]?.updated_at as string)}`, 2)
  t.same(sync.map((i) => i.id), [...created.slice(3).map((i) => i.id), first.id], 'a partner sync from a point in time')
})

t.test('possible-duplicates lists another source\'s report close in time and place with a shared code, and nothing else', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const place = { neighborhood: 'Downtown' }
  const far = { neighborhood: 'Harbor', census_tract: '0101', latitude: 41.2, longitude: -73.3 }
  const subject = await createIncident(app, city.key, report({ source: 'ngo-a', bias_motivations: ['14', '21'], occurred_on: '2024-03-10', location: place }))
  const match = await createIncident(app, city.key, report({ source: 'ngo-b', bias_motivations: ['21'], occurred_on: '2024-03-13', location: place }))
  const sameSource = await createIncident(app, city.key, report({ source: 'ngo-a', bias_motivations: ['14'], occurred_on: '2024-03-10', location: place }))
  const tenDays = await createIncident(app, city.key, report({ source: 'ngo-b', bias_motivations: ['14'], occurred_on: '2024-03-20', location: place }))
  const noSharedCode = await createIncident(app, city.key, report({ source: 'ngo-b', bias_motivations: ['41'], occurred_on: '2024-03-10', location: place }))
  const elsewhere = await createIncident(app, city.key, report({ source: 'ngo-b', bias_motivations: ['14'], occurred_on: '2024-03-10', location: far }))
  const other = await makeCityWithKey(db, [...WRITER])
  await createIncident(app, other.key, report({ source: 'ngo-b', bias_motivations: ['14'], occurred_on: '2024-03-10', location: place }))

  const res = await app.inject({ method: 'GET', url: `/v1/incidents/${subject.id as string}/possible-duplicates`, headers: bearer(city.key) })
  t.equal(res.statusCode, 200)
  t.same(res.json().data.map((i: Incident) => i.id), [match.id], 'only the other source\'s report within 3 days sharing a code in the same place')
  t.equal(res.json().next_cursor, null)
  const listed = new Set(res.json().data.map((i: Incident) => i.id))
  for (const [what, incident] of [['same source', sameSource], ['10 days apart', tenDays], ['no shared code', noSharedCode], ['another place', elsewhere]] as const) {
    t.notOk(listed.has(incident.id), `${what} is not listed`)
  }
  const back = await app.inject({ method: 'GET', url: `/v1/incidents/${match.id as string}/possible-duplicates`, headers: bearer(city.key) })
  t.same(back.json().data.map((i: Incident) => i.id), [subject.id], 'the relation holds both ways')

  const nearby = await createIncident(app, city.key, report({ source: 'resident-portal', bias_motivations: ['14'], occurred_on: '2024-03-08', location: { latitude: 41.2001, longitude: -73.3001 } }))
  const byPlace = await app.inject({ method: 'GET', url: `/v1/incidents/${elsewhere.id as string}/possible-duplicates`, headers: bearer(city.key) })
  t.ok(byPlace.json().data.some((i: Incident) => i.id === nearby.id), 'coordinates within about 2 km count as the same place')
})
