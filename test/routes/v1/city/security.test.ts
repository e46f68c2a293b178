import { randomBytes } from 'node:crypto'
import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

const operations = [
  { method: 'GET' as const, url: '/v1/city' },
  { method: 'PATCH' as const, url: '/v1/city', headers: { 'if-match': '*' }, payload: { population: 1 } }
]

async function population (key: string): Promise<number | null> {
  return (await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(key) })).json().population
}

t.test('GET and PATCH /v1/city answer 401 problem+json with WWW-Authenticate: Bearer without a key, with a malformed header, with an unknown key', async (t) => {
  const city = await makeCityWithKey(db)
  const unknown = `coh_${randomBytes(24).toString('base64url')}`
  const headers: Record<string, Record<string, string>> = {
    'no key': {},
    'a Basic header': { authorization: 'Basic dXNlcjpwYXNz' },
    'a bare key without the Bearer scheme': { authorization: city.key },
    'an empty Bearer': { authorization: 'Bearer' },
    'an unknown key': bearer(unknown)
  }
  for (const op of operations) {
    for (const [what, extra] of Object.entries(headers)) {
      const res = await app.inject({ ...op, headers: { ...op.headers, ...extra } })
      expectProblem(t, res, 401, 'unauthorized', `${op.method} with ${what}`)
      t.match(res.headers['www-authenticate'], /^Bearer\b/)
    }
  }
  t.equal(await population(city.key), 135000, 'no refused PATCH changed the city')
})

t.test('PATCH /v1/city with a key lacking admin is 403 naming admin, and changes nothing', async (t) => {
  const city = await makeCityWithKey(db)
  const writer = await makeKey(db, city.id, ['incidents:write', 'stakeholders:write'])
  const res = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(writer.key), 'if-match': '*' }, payload: { population: 1 } })
  expectProblem(t, res, 403, 'forbidden', 'PATCH without admin')
  t.match(res.json().detail, /\badmin\b/)
  t.equal(await population(city.key), 135000)
})

t.test('a key reads and changes only its own city; another city\'s ETag is 412 and leaves both unchanged', async (t) => {
  const a = await makeCityWithKey(db)
  const b = await makeCityWithKey(db)
  const readA = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(a.key) })
  const readB = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(b.key) })
  t.equal(readA.json().id, a.id)
  t.equal(readB.json().id, b.id)

  const cross = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(b.key), 'if-match': readA.headers.etag as string }, payload: { population: 7 } })
  expectProblem(t, cross, 412, 'precondition_failed', 'B patching with A\'s ETag')
  t.equal(await population(a.key), 135000)
  t.equal(await population(b.key), 135000)

  const own = await app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(b.key), 'if-match': readB.headers.etag as string }, payload: { population: 8 } })
  t.equal(own.statusCode, 200)
  t.equal(own.json().id, b.id)
  t.equal(await population(b.key), 8)
  t.equal(await population(a.key), 135000, 'B\'s change did not reach A')
})
