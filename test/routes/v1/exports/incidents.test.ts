import { sql } from 'drizzle-orm'
import { parse } from 'csv-parse/sync'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createIncident, personalReport, report } from '../incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

const COLUMNS = ['occurred_on', 'incident_type', 'bias_motivations', 'bias_categories', 'offense_types', 'status', 'resolution', 'location_type',
  'neighborhood', 'census_tract', 'is_online', 'platform', 'victim_count', 'victim_type', 'source']

const exportOf = async (key: string, search = '', headers: Record<string, string> = {}) =>
  await app.inject({ method: 'GET', url: `/v1/exports/incidents${search}`, headers: { ...bearer(key), ...headers } })

const csvRows = (body: string): Array<Record<string, string>> => parse(body, { columns: true, skip_empty_lines: true })

t.test('the CSV parses back with a real CSV parser: a header of the documented columns and one row per incident, newest first', async (t) => {
  const city = await makeCityWithKey(db)
  await createIncident(app, city.key, report({ occurred_on: '2024-03-01', bias_motivations: ['14', '21'], offense_types: ['13B'], victim: { count: 2, type: 'individual' } }))
  await createIncident(app, city.key, report({
    occurred_on: '2024-05-02',
    location: { location_type: '58', neighborhood: 'North End, "the hill"' },
    online: { is_online: true, platform: 'Instagram' }
  }))
  const res = await exportOf(city.key, '?format=csv')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv/)
  t.same(res.body.split('\r\n')[0]?.split(','), COLUMNS, 'the header row names the columns in order')
  const rows = csvRows(res.body)
  t.equal(rows.length, 2)
  t.same(rows.map((r) => r.occurred_on), ['2024-05-02', '2024-03-01'], 'newest first')
  t.equal(rows[0]?.neighborhood, 'North End, "the hill"', 'commas and quotes survive the round trip')
  t.equal(rows[0]?.is_online, 'true')
  t.equal(rows[0]?.platform, 'Instagram')
  t.equal(rows[1]?.bias_motivations, '14;21', 'lists are joined with ;')
  t.equal(rows[1]?.offense_types, '13B')
  t.equal(rows[1]?.victim_count, '2')
  t.equal(rows[1]?.census_tract, '0215.02')
  t.equal(rows[1]?.platform, '', 'a missing value is an empty cell')
})

t.test('cells a spreadsheet would run as a formula get a leading quote; numbers stay numbers', async (t) => {
  const city = await makeCityWithKey(db)
  const dangerous = ['=HYPERLINK("http://example.org","x")', '+1+2', '-3+4', '@SUM(A1)', '\tlead tab', '\rlead return']
  for (const [i, neighborhood] of dangerous.entries()) {
    await createIncident(app, city.key, report({ occurred_on: `2024-01-${String(10 + i).padStart(2, '0')}`, location: { neighborhood }, victim: { count: 0 } }))
  }
  await createIncident(app, city.key, report({ occurred_on: '2024-01-01', location: { neighborhood: 'Safe = fine' } }))
  const stored = await query<{ neighborhood: string }>(db, sql`SELECT neighborhood FROM incidents WHERE city_id = ${city.id} ORDER BY occurred_on DESC`)
  const rows = csvRows((await exportOf(city.key)).body)
  t.equal(rows.length, dangerous.length + 1)
  for (const [i, row] of rows.entries()) {
    const original = stored[i]?.neighborhood as string
    if (/^[=+\-@\t\r]/.test(original)) t.equal(row.neighborhood, `'${original}`, `${JSON.stringify(original)} is neutralised`)
    else t.equal(row.neighborhood, original, `${JSON.stringify(original)} is left as it is`)
  }
  t.ok(rows.every((r) => !/^[=+\-@\t\r]/.test(r.neighborhood ?? '')), 'no cell begins with a formula character')
  t.ok(rows.some((r) => r.victim_count === '0'), 'numbers are written as numbers')
  const ndjson = (await exportOf(city.key, '?format=ndjson')).body.trim().split('\n').map((l) => JSON.parse(l))
  t.ok(ndjson.some((r) => r.neighborhood === dangerous[0]), 'NDJSON carries the text as it is: it is not read by spreadsheets')
})

t.test('no personal field, no free text and no coordinates leave: sentinel values in every personal field appear nowhere in the export', async (t) => {
  const city = await makeCityWithKey(db)
  const sentinel = 'zq9sentinel'
  const reports = [0, 1, 2].map((i) => {
    const r = personalReport({
      external_id: `${sentinel}-ext-${i}`,
      summary: `Public summary ${sentinel}`,
      narrative: `What happened to me ${sentinel}`,
      reporter: { name: `Name ${sentinel}`, email: `${sentinel}@example.org`, phone: '+1 203 555 0777', role: 'victim' },
      location: { location_type: '57', neighborhood: 'Downtown', census_tract: '0215.02', address: `${sentinel} Elm Street`, latitude: 41.053921, longitude: -73.538731 }
    })
    return r
  })
  for (const r of reports) await createIncident(app, city.key, r)
  const stored = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM incidents WHERE city_id = ${city.id} AND personal_data IS NOT NULL`)
  t.equal(stored[0]?.n, 3, 'the incidents do hold sealed personal data')
  for (const format of ['csv', 'ndjson']) {
    const res = await exportOf(city.key, `?format=${format}`)
    t.equal(res.statusCode, 200)
    for (const needle of [sentinel, '555', '0777', '41.05', '73.5', '41.053921']) t.notOk(res.body.includes(needle), `${format}: ${needle} is not in the export`)
    t.ok(res.body.includes('Downtown'), `${format}: the neighbourhood is there`)
    t.ok(res.body.includes('0215.02'), `${format}: the census tract is there`)
  }
  const first = JSON.parse((await exportOf(city.key, '?format=ndjson')).body.split('\n')[0] as string)
  t.same(Object.keys(first), COLUMNS, 'an NDJSON record has exactly the documented columns')
  t.notOk('id' in first || 'external_id' in first || 'latitude' in first, 'no id that leads back to the case record')
})

t.test('incidents whose reporters opted out of statistics, duplicates and unfounded reports are left out', async (t) => {
  const city = await makeCityWithKey(db)
  const kept = await createIncident(app, city.key, report({ occurred_on: '2024-02-01', location: { neighborhood: 'Kept' } }))
  await createIncident(app, city.key, report({ occurred_on: '2024-02-02', location: { neighborhood: 'OptedOut' }, consent: { include_in_statistics: false } }))
  const unfounded = await createIncident(app, city.key, report({ occurred_on: '2024-02-03', location: { neighborhood: 'Unfounded' } }))
  await db.execute(sql`UPDATE incidents SET status = 'unfounded', resolution = 'unfounded' WHERE city_id = ${city.id} AND id = ${unfounded.id}`)
  const duplicate = await createIncident(app, city.key, report({ occurred_on: '2024-02-04', location: { neighborhood: 'Duplicate' } }))
  await db.execute(sql`UPDATE incidents SET status = 'duplicate', resolution = 'duplicate', duplicate_of = ${kept.id} WHERE city_id = ${city.id} AND id = ${duplicate.id}`)
  for (const format of ['csv', 'ndjson']) {
    const body = (await exportOf(city.key, `?format=${format}`)).body
    t.ok(body.includes('Kept'))
    for (const absent of ['OptedOut', 'Unfounded', 'Duplicate']) t.notOk(body.includes(absent), `${format}: ${absent} is left out`)
  }
})

t.test('from, to and status filter the rows; from after to is a 400', async (t) => {
  const city = await makeCityWithKey(db)
  for (const day of ['2024-01-15', '2024-02-15', '2024-03-15']) await createIncident(app, city.key, report({ occurred_on: day }))
  const [latest] = await query<{ id: string }>(db, sql`SELECT id FROM incidents WHERE city_id = ${city.id} AND occurred_on = '2024-03-15'`)
  await db.execute(sql`UPDATE incidents SET status = 'under_review' WHERE city_id = ${city.id} AND id = ${latest?.id}`)
  t.same(csvRows((await exportOf(city.key, '?from=2024-02-01&to=2024-03-15')).body).map((r) => r.occurred_on), ['2024-03-15', '2024-02-15'], 'inclusive range')
  t.same(csvRows((await exportOf(city.key, '?to=2024-02-14')).body).map((r) => r.occurred_on), ['2024-01-15'])
  const reviewed = csvRows((await exportOf(city.key, '?status=under_review')).body)
  t.same(reviewed.map((r) => [r.occurred_on, r.status]), [['2024-03-15', 'under_review']])
  expectProblem(t, await exportOf(city.key, '?from=2024-03-01&to=2024-02-01'), 400, 'validation_failed', 'from after to')
  expectProblem(t, await exportOf(city.key, '?format=xlsx'), 400, 'validation_failed', 'unknown format')
  expectProblem(t, await exportOf(city.key, '?from=yesterday'), 400, 'validation_failed', 'not a date')
})

t.test('Accept: text/csv works as well as format=, NDJSON by Accept too; the attachment is named after the city and the dates', async (t) => {
  const city = await makeCityWithKey(db)
  await createIncident(app, city.key, report({ occurred_on: '2024-04-04' }))
  const csv = await exportOf(city.key, '?from=2024-01-01&to=2024-12-31', { accept: 'text/csv' })
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.equal(csv.headers['content-disposition'], `attachment; filename="${city.slug}_incidents_2024-01-01_2024-12-31.csv"`)
  const ndjson = await exportOf(city.key, '', { accept: 'application/json;q=0.5, application/x-ndjson' })
  t.match(ndjson.headers['content-type'], /^application\/x-ndjson/)
  t.match(ndjson.headers['content-disposition'], new RegExp(`^attachment; filename="${city.slug}_incidents_start_\\d{4}-\\d{2}-\\d{2}\\.ndjson"$`))
  t.equal(JSON.parse(ndjson.body.trim()).occurred_on, '2024-04-04')
  const asked = await exportOf(city.key, '?format=csv', { accept: 'application/x-ndjson' })
  t.match(asked.headers['content-type'], /^text\/csv/, 'format= wins over Accept')
  const fallback = await exportOf(city.key, '', { accept: 'text/html, */*' })
  t.match(fallback.headers['content-type'], /^text\/csv/, 'an Accept naming no supported type gets CSV')
})

t.test('an export spanning several pages has every row once, in order', async (t) => {
  const city = await makeCityWithKey(db)
  // Many incidents on few days: pages break inside a day, where the id decides.
  await db.execute(sql`INSERT INTO incidents (city_id, id, source, incident_type, bias_motivations, bias_categories, taxonomy_version, occurred_on, reported_at, content_hash)
    SELECT ${city.id}::uuid, gen_random_uuid(), 'seed', 'bias_incident', '{14}', '{race_ethnicity_ancestry}', 'x', date '2024-01-01' + (g % 3), now(), repeat('0', 64)
    FROM generate_series(1, 12001) AS g`)
  const rows = csvRows((await exportOf(city.key)).body)
  t.equal(rows.length, 12001, 'every row, across three pages')
  const days = rows.map((r) => r.occurred_on)
  t.same(days, [...days].sort().reverse(), 'newest first throughout')
  const ndjson = (await exportOf(city.key, '?format=ndjson')).body.trim().split('\n')
  t.equal(ndjson.length, 12001)
})

t.test('another city\'s incidents never appear', async (t) => {
  const mine = await makeCityWithKey(db)
  const other = await makeCityWithKey(db)
  await createIncident(app, mine.key, report({ location: { neighborhood: 'Mine' } }))
  await createIncident(app, other.key, report({ location: { neighborhood: 'Theirs' } }))
  for (const format of ['csv', 'ndjson']) {
    const body = (await exportOf(mine.key, `?format=${format}`)).body
    t.ok(body.includes('Mine'))
    t.notOk(body.includes('Theirs'), `${format}: the other city's incident is not there`)
  }
  const empty = await makeCityWithKey(db)
  const res = await exportOf(empty.key)
  t.equal(res.statusCode, 200)
  t.same(csvRows(res.body), [], 'a city without incidents gets the header only')
  t.equal(res.body, COLUMNS.join(',') + '\r\n')
})

t.test('every export is recorded in the audit trail, with its filter and not a row of it', async (t) => {
  const city = await makeCityWithKey(db)
  const partner = await makeKey(db, city.id, ['exports:read_records'])
  await createIncident(app, city.key, report())
  await exportOf(partner.key, '?format=ndjson&from=2024-01-01')
  const events = await query<{ action: string, actor_key_id: string, details: Record<string, unknown> }>(db,
    sql`SELECT action, actor_key_id, details FROM audit_events WHERE city_id = ${city.id} AND action = 'export.incidents'`)
  t.equal(events.length, 1)
  t.equal(events[0]?.actor_key_id, partner.id)
  t.same(events[0]?.details, { format: 'ndjson', from: '2024-01-01', to: null, status: null })
})

t.test('GET /v1/exports/incidents/schema is a Frictionless Table Schema of exactly the exported columns', async (t) => {
  const city = await makeCityWithKey(db)
  const analyst = await makeKey(db, city.id, ['exports:read'])
  const res = await app.inject({ method: 'GET', url: '/v1/exports/incidents/schema', headers: bearer(analyst.key) })
  t.equal(res.statusCode, 200)
  const schema = res.json()
  t.same(schema.fields.map((f: { name: string }) => f.name), COLUMNS)
  t.same(schema.missingValues, [''])
  const byName = Object.fromEntries(schema.fields.map((f: Record<string, unknown>) => [f.name, f]))
  t.equal(byName.occurred_on.type, 'date')
  t.equal(byName.victim_count.type, 'integer')
  t.equal(byName.is_online.type, 'boolean')
  t.match(byName.bias_motivations, { type: 'list', delimiter: ';', itemType: 'string' })
  t.match(byName.status.constraints.enum, ['received'])
  expectProblem(t, await app.inject({ method: 'GET', url: '/v1/exports/nothing-here/schema', headers: bearer(analyst.key) }), 404, 'not_found', 'unknown export')
})
