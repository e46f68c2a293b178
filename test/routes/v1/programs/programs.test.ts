import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { auditActions, createProgram, getProgram, patchProgram, postProgram, program, programCount, uniqueId } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read', 'incidents:read', 'plans:read'] as const

t.test('a program is added with 201, Location and ETag, its provider a stakeholder of the city, and read back as sent', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const provider = await makeStakeholder(db, city.id)
  const sent = program({ provider_id: provider.id })
  const res = await postProgram(app, city.key, sent)
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.equal(res.headers.location, `/v1/programs/${created.id as string}`)
  t.match(res.headers.etag, /^"[^"]+-1"$/)
  t.match(created, { ...sent, active: true, external_id: null, version: 1 })
  const read = await getProgram(app, city.key, created.id)
  t.same(read.json(), created)
  t.same((await auditActions(db, city.id, created.id)).map((a) => a.action), ['program.created'])
})

t.test('a provider that is no stakeholder of the city is a 422 naming provider_id, on POST and on PATCH', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const other = await makeCityWithKey(db, [...WRITER])
  const foreign = await makeStakeholder(db, other.id)
  for (const [what, id] of [['another city\'s stakeholder', foreign.id], ['a random id', randomUUID()]] as const) {
    const res = await postProgram(app, city.key, program({ provider_id: id }))
    expectProblem(t, res, 422, 'unprocessable', what)
    t.same(res.json().errors, [{ path: '/body/provider_id', message: 'is not a stakeholder of this city' }])
  }
  t.equal(await programCount(db, city.id), 0)
  const created = await createProgram(app, city.key)
  const patch = await patchProgram(app, city.key, created.id, '*', { provider_id: foreign.id })
  expectProblem(t, patch, 422, 'unprocessable', 'PATCH to another city\'s provider')
  t.same(patch.json().errors.map((e: { path: string }) => e.path), ['/body/provider_id'])
  t.equal((await getProgram(app, city.key, created.id)).json().provider_id, null)
})

t.test('fields are bounded and closed: an unknown service type, a url that is not http(s), an unknown field are 400s naming each', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const res = await postProgram(app, city.key, program({ service_types: ['housing', 'policing'], colour: 'red', languages: ['english!'] }))
  expectProblem(t, res, 400, 'validation_failed', 'bad fields')
  const paths = res.json().errors.map((e: { path: string }) => e.path)
  for (const path of ['/body/service_types/1', '/body/colour', '/body/languages/0']) t.ok(paths.includes(path), `names ${path}`)
  const url = await postProgram(app, city.key, program({ url: 'javascript:alert(1)' }))
  t.same(url.json().errors.map((e: { path: string }) => e.path), ['/body/url'], 'only http(s) addresses')
  t.equal(await programCount(db, city.id), 0)
})

t.test('the directory filters by service type, language (with its regional forms), neighbourhood, provider and active', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const provider = await makeStakeholder(db, city.id)
  const housing = await createProgram(app, city.key, program({ name: 'A housing help', service_types: ['housing'], languages: ['es-MX'], neighborhoods: ['West Side'], provider_id: provider.id }))
  const youth = await createProgram(app, city.key, program({ name: 'B youth club', service_types: ['youth', 'community_building'], languages: ['en'], neighborhoods: ['downtown'] }))
  const citywide = await createProgram(app, city.key, program({ name: 'C legal aid', service_types: ['legal_aid'], languages: ['ar', 'en'], neighborhoods: [] }))
  const archived = await createProgram(app, city.key, program({ name: 'D old line', service_types: ['housing'], active: false }))
  const list = async (q: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/v1/programs?${q}`, headers: bearer(city.key) })
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((p: { id: string }) => p.id)
  }
  t.same(await list(''), [housing.id, youth.id, citywide.id, archived.id], 'alphabetical')
  t.same(await list('service_type=housing'), [housing.id, archived.id])
  t.same(await list('service_type=housing&active=true'), [housing.id])
  t.same(await list('active=false'), [archived.id])
  t.same(await list('language=es'), [housing.id, archived.id], 'es finds es-MX')
  t.same(await list('language=ES-mx'), [housing.id], 'tags match regardless of case')
  t.same(await list('language=ar'), [citywide.id])
  t.same(await list('neighborhood=Downtown'), [youth.id, citywide.id, archived.id], 'the area regardless of case, and programs serving the whole city')
  t.same(await list(`provider_id=${provider.id}`), [housing.id])
  const bad = await app.inject({ method: 'GET', url: '/v1/programs?service_type=policing', headers: bearer(city.key) })
  expectProblem(t, bad, 400, 'validation_failed', 'an unknown service type')
})

t.test('the directory pages alphabetically with a cursor, and the change feed lists changes in order', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const names = ['Echo', 'Alpha', 'Delta', 'Bravo', 'Charlie']
  const byName = new Map<string, string>()
  for (const name of names) byName.set(name, (await createProgram(app, city.key, program({ name }))).id)
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: `/v1/programs?limit=2${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: bearer(city.key) })
    seen.push(...res.json().data.map((p: { name: string }) => p.name))
    cursor = res.json().next_cursor
  } while (cursor !== null)
  t.same(seen, ['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo'])

  const feed = await app.inject({ method: 'GET', url: '/v1/programs?order=updated_asc', headers: bearer(city.key) })
  t.same(feed.json().data.map((p: { name: string }) => p.name), names, 'in the order they were written')
  await patchProgram(app, city.key, byName.get('Alpha') as string, '*', { eligibility: 'Residents.' })
  const later = await app.inject({ method: 'GET', url: `/v1/programs?order=updated_asc&cursor=${encodeURIComponent(feed.json().next_cursor as string)}`, headers: bearer(city.key) })
  t.same(later.json().data.map((p: { name: string }) => p.name), ['Alpha'], 'the changed program comes again')
})

t.test('PATCH merges, needs If-Match (428 without, 412 stale), and {"active": false} archives the program', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createProgram(app, city.key)
  expectProblem(t, await patchProgram(app, city.key, created.id, undefined, { active: false }), 428, 'precondition_required', 'no If-Match')
  const etag = (await getProgram(app, city.key, created.id)).headers.etag as string
  const res = await patchProgram(app, city.key, created.id, etag, { active: false, public_phone: null })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { active: false, public_phone: null, public_email: 'help@support.example.org', name: 'Victim support line', version: 2 })
  expectProblem(t, await patchProgram(app, city.key, created.id, etag, { name: 'Renamed' }), 412, 'precondition_failed', 'stale If-Match')
  t.same((await auditActions(db, city.id, created.id)).map((a) => a.action), ['program.created', 'program.archived'])
})

t.test('a program an incident was referred to cannot be deleted: 409 naming the referrals; it is archived instead', async (t) => {
  const city = await makeCityWithKey(db, ['admin'])
  const referred = await createProgram(app, city.key)
  const incident = await app.inject({
    method: 'POST',
    url: '/v1/incidents',
    headers: bearer(city.key),
    payload: { source: 'resident-portal', incident_type: 'bias_incident', bias_motivations: ['14'], occurred_on: '2024-03-01' }
  })
  t.equal(incident.statusCode, 201)
  const referral = await app.inject({
    method: 'PATCH',
    url: `/v1/incidents/${incident.json().id as string}`,
    headers: { ...bearer(city.key), 'if-match': '*' },
    payload: { referrals: [{ kind: 'program', id: referred.id, referred_on: '2024-03-05' }] }
  })
  t.equal(referral.statusCode, 200)

  const refused = await app.inject({ method: 'DELETE', url: `/v1/programs/${referred.id as string}`, headers: bearer(city.key) })
  expectProblem(t, refused, 409, 'conflict', 'deleting a referred program')
  t.match(refused.json().detail, /incident referrals/)
  t.match(refused.json().detail, /active": false/)
  t.same(refused.json().errors, [{ path: '/params/id', message: 'is referred to by incident referrals' }])
  t.equal((await getProgram(app, city.key, referred.id)).statusCode, 200, 'the program stays')

  const archived = await patchProgram(app, city.key, referred.id, '*', { active: false })
  t.equal(archived.json().active, false, 'archiving works')
  const listed = await app.inject({ method: 'GET', url: '/v1/programs?active=true', headers: bearer(city.key) })
  t.same(listed.json().data, [], 'an archived program leaves the active directory')
})

t.test('a program nothing refers to is deleted with 204, audited; then it is 404', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createProgram(app, city.key, program({ external_id: uniqueId() }))
  const res = await app.inject({ method: 'DELETE', url: `/v1/programs/${created.id as string}`, headers: bearer(city.key) })
  t.equal(res.statusCode, 204)
  expectProblem(t, await getProgram(app, city.key, created.id), 404, 'not_found', 'read after delete')
  t.same((await auditActions(db, city.id, created.id)).map((a) => a.action), ['program.created', 'program.deleted'])
  t.equal(await programCount(db, city.id), 0)
})
