import t from 'tap'
import { makeCityWithKey } from '../factories.js'
import { bearer, build } from '../helper.js'

const PORTAL = 'https://portal.example.gov'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const { app, database } = await build(t, { CORS_ORIGINS: PORTAL })
const db = database.db

const list = (value: unknown): string[] => String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)

t.test('a preflight from an allowed origin is answered and allows the headers a portal sends', async (t) => {
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/v1/city',
    headers: {
      origin: PORTAL,
      'access-control-request-method': 'PATCH',
      'access-control-request-headers': 'authorization, content-type, if-match, idempotency-key'
    }
  })
  t.ok(res.statusCode === 204 || res.statusCode === 200, `preflight succeeds (${res.statusCode})`)
  t.equal(res.headers['access-control-allow-origin'], PORTAL)
  const allowed = list(res.headers['access-control-allow-headers'])
  for (const header of ['authorization', 'if-match', 'idempotency-key', 'content-type']) {
    t.ok(allowed.includes(header), `allows ${header}`)
  }
  t.ok(list(res.headers['access-control-allow-methods']).includes('patch'), 'allows PATCH')
  t.ok(Number(res.headers['access-control-max-age']) > 0, 'lets the browser cache the preflight')
})

t.test('an actual request from an allowed origin exposes the headers a portal reads', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: { ...bearer(city.key), origin: PORTAL } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['access-control-allow-origin'], PORTAL)
  t.match(String(res.headers.vary), /origin/i, 'caches keep answers per origin apart')
  const exposed = list(res.headers['access-control-expose-headers'])
  for (const header of ['etag', 'x-request-id', 'retry-after', 'location']) t.ok(exposed.includes(header), `exposes ${header}`)
})

t.test('a disallowed origin gets no access-control-allow-origin, on preflight or on a request', async (t) => {
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/v1/city',
    headers: { origin: 'https://elsewhere.example.com', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization' }
  })
  t.notOk(preflight.headers['access-control-allow-origin'], 'no allow-origin on the preflight')
  t.notOk(preflight.headers['access-control-allow-credentials'], 'nor credentials')

  const city = await makeCityWithKey(db)
  for (const origin of ['https://elsewhere.example.com', 'https://portal.example.gov.evil.com', 'http://portal.example.gov', 'null']) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: { ...bearer(city.key), origin } })
    t.notOk(res.headers['access-control-allow-origin'], `${origin} is not allowed`)
  }
})

t.test('every response carries x-request-id: 200, 400, 401 and 404', async (t) => {
  const city = await makeCityWithKey(db)
  const answers = {
    200: await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) }),
    400: await app.inject({ method: 'GET', url: '/v1/api-keys?limit=0', headers: bearer(city.key) }),
    401: await app.inject({ method: 'GET', url: '/v1/city' }),
    404: await app.inject({ method: 'GET', url: '/v1/nothing-here' })
  }
  for (const [status, res] of Object.entries(answers)) {
    t.equal(res.statusCode, Number(status))
    t.match(String(res.headers['x-request-id']), UUID, `${status} carries a generated request id`)
  }
  t.equal(answers[401].json().request_id, answers[401].headers['x-request-id'], 'a problem body names the same id')
  t.not(answers[200].headers['x-request-id'], answers[401].headers['x-request-id'], 'ids differ per request')
})

t.test('a sane incoming x-request-id is echoed and used in problem bodies', async (t) => {
  for (const id of ['portal-2024-05-01.abc:123', 'a', 'x'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e']) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: { 'x-request-id': id } })
    t.equal(res.statusCode, 401)
    t.equal(res.headers['x-request-id'], id, `${id.slice(0, 30)} is echoed`)
    t.equal(res.json().request_id, id)
  }
})

t.test('an insane incoming x-request-id is replaced by a generated one', async (t) => {
  for (const id of ['x'.repeat(300), 'has spaces in it', 'semi;colon', 'quote"d', '<script>', 'x'.repeat(129)]) {
    const res = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': id } })
    t.equal(res.statusCode, 200)
    t.not(res.headers['x-request-id'], id, `${id.slice(0, 20)} is not echoed`)
    t.match(String(res.headers['x-request-id']), UUID, 'a fresh UUID is used instead')
  }
  const twice = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': ['one', 'two'] } })
  t.match(String(twice.headers['x-request-id']), UUID, 'a repeated header is not trusted either')
})

t.test('security headers from helmet are on API answers and problems alike', async (t) => {
  const city = await makeCityWithKey(db)
  for (const res of [
    await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) }),
    await app.inject({ method: 'GET', url: '/v1/city' }),
    await app.inject({ method: 'GET', url: '/missing' })
  ]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `nosniff on ${res.statusCode}`)
    t.match(String(res.headers['content-security-policy']), /default-src 'none'/, 'a CSP that allows nothing')
    t.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, 'and cannot be framed')
    t.ok(res.headers['strict-transport-security'], 'HSTS is set')
    t.equal(res.headers['x-frame-options'], 'DENY', 'older browsers may not frame it either')
    t.equal(res.headers['cache-control'], 'no-store', 'nothing keeps a copy')
    t.equal(res.headers['x-powered-by'], undefined, 'the server does not announce itself')
    for (const page of ['referrer-policy', 'cross-origin-resource-policy', 'cross-origin-opener-policy', 'x-dns-prefetch-control', 'x-xss-protection']) {
      t.equal(res.headers[page], undefined, `no ${page}: a header for pages, not for an API`)
    }
  }
})

t.test('with no portal configured, no answer carries CORS headers and a preflight is not answered', async (t) => {
  const { app: closed, database: closedDatabase } = await build(t)
  const city = await makeCityWithKey(closedDatabase.db)
  const res = await closed.inject({ method: 'GET', url: '/v1/city', headers: { ...bearer(city.key), origin: PORTAL } })
  t.equal(res.statusCode, 200, 'the request itself is served')
  const preflight = await closed.inject({ method: 'OPTIONS', url: '/v1/city', headers: { origin: PORTAL, 'access-control-request-method': 'PATCH' } })
  t.equal(preflight.statusCode, 404, 'no preflight route')
  t.match(String(preflight.headers['content-type']), /^application\/problem\+json/, 'a problem, like every refusal')
  for (const answer of [res, preflight]) {
    t.same(Object.keys(answer.headers).filter((name) => name.startsWith('access-control-')), [], `no access-control-* on the ${answer.statusCode}`)
  }
})

t.test('an authenticated response carries RateLimit headers with the remaining allowance', async (t) => {
  const city = await makeCityWithKey(db)
  const first = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  const second = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['ratelimit-limit'], '100000', 'the configured allowance')
  t.ok(first.headers['ratelimit-reset'] !== undefined, 'when the window resets')
  const remaining = Number(first.headers['ratelimit-remaining'])
  t.ok(Number.isInteger(remaining) && remaining < 100000, 'the remaining allowance is counted')
  t.equal(Number(second.headers['ratelimit-remaining']), remaining - 1, 'each request uses one')
})
