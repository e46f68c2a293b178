import { randomUUID } from 'node:crypto'
import t from 'tap'
import { makeCityWithKey } from '../factories.js'
import { bearer, build } from '../helper.js'

const { app, database } = await build(t)
const db = database.db

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const
type Method = Uppercase<typeof METHODS[number]>

/** Every operation of the app's own OpenAPI document whose path has a parameter, as method and path template. */
function operationsWithPathParameters (): Array<{ method: Method, template: string }> {
  const document = app.swagger() as { paths?: Record<string, Record<string, unknown>> }
  const out: Array<{ method: Method, template: string }> = []
  for (const [template, item] of Object.entries(document.paths ?? {})) {
    if (!template.includes('{')) continue
    for (const method of METHODS) if (item[method] !== undefined) out.push({ method: method.toUpperCase() as Method, template })
  }
  return out
}

/** The template with every `{parameter}` replaced by the given value. */
const fill = (template: string, value: string): string => template.replace(/\{[^}]+\}/g, value)

const operations = operationsWithPathParameters()

t.test('the OpenAPI document lists the operations with path parameters this test walks', async (t) => {
  const names = operations.map((o) => `${o.method} ${o.template}`)
  for (const known of ['GET /v1/api-keys/{id}', 'DELETE /v1/api-keys/{id}', 'GET /v1/audit-events/{id}', 'GET /v1/incidents/{id}', 'PATCH /v1/incidents/{id}',
    'GET /v1/incidents/{id}/possible-duplicates', 'DELETE /v1/incidents/{id}/personal-data']) {
    t.ok(names.includes(known), `${known} is walked`)
  }
})

t.test('a path parameter longer than 200 characters is a 414 uri_too_long problem on every operation that has one', async (t) => {
  const city = await makeCityWithKey(db, ['admin', 'incidents:write', 'incidents:read', 'incidents:read_personal'])
  const long = 'a'.repeat(201)
  for (const { method, template } of operations) {
    const url = fill(template, long)
    for (const [who, headers] of [['without a key', {}], ['with a key', bearer(city.key)]] as const) {
      const what = `${method} ${template} ${who}`
      const res = await app.inject({ method, url, headers: { ...headers, 'if-match': '*' }, ...(method === 'PATCH' ? { payload: {} } : {}) })
      t.equal(res.statusCode, 414, `${what}: 414`)
      t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`)
      const body = res.json()
      t.equal(body.status, 414, `${what}: status in the body`)
      t.equal(body.code, 'uri_too_long', `${what}: code`)
      t.equal(body.type, '/problems/uri_too_long', `${what}: type`)
      t.type(body.title, 'string', `${what}: title`)
      t.ok(String(body.title).length > 0, `${what}: title is not empty`)
      t.type(body.detail, 'string', `${what}: detail`)
      t.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/, `${what}: x-request-id header`)
      t.equal(body.request_id, res.headers['x-request-id'], `${what}: request_id is the x-request-id header`)
      t.equal(body.instance, url, `${what}: instance is the request path`)
    }
  }
})

t.test('the 414 keeps a sane incoming x-request-id, as every other answer does', async (t) => {
  const res = await app.inject({ method: 'GET', url: `/v1/incidents/${'b'.repeat(300)}`, headers: { 'x-request-id': 'portal-trace-414' } })
  t.equal(res.statusCode, 414)
  t.equal(res.headers['x-request-id'], 'portal-trace-414')
  t.equal(res.json().request_id, 'portal-trace-414')
})

t.test('an id of exactly 200 characters reaches the route, which refuses it as an invalid UUID', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'GET', url: `/v1/api-keys/${'c'.repeat(200)}`, headers: bearer(city.key) })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'validation_failed')
  t.same([...new Set(res.json().errors.map((e: { path: string }) => e.path))], ['/params/id'])
  const ok = await app.inject({ method: 'GET', url: `/v1/api-keys/${randomUUID()}`, headers: bearer(city.key) })
  t.equal(ok.statusCode, 404, 'a well-formed unknown id is a plain 404')
})

t.test('a configured portal can read the 414: it carries CORS for that origin and refuses sniffing, and no other origin gets CORS', async (t) => {
  const portal = 'https://portal.example.gov'
  const { app: withCors } = await build(t, { CORS_ORIGINS: portal })
  const url = `/v1/incidents/${'a'.repeat(201)}`
  const res = await withCors.inject({ method: 'GET', url, headers: { origin: portal } })
  t.equal(res.statusCode, 414)
  t.equal(res.headers['access-control-allow-origin'], portal)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  const stranger = await withCors.inject({ method: 'GET', url, headers: { origin: 'https://elsewhere.example.com' } })
  t.equal(stranger.statusCode, 414)
  t.equal(stranger.headers['access-control-allow-origin'], undefined)
})
