import { connect, type AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { makeCityWithKey } from '../factories.js'
import { bearer, build, freshDatabase, testConfig } from '../helper.js'

interface Answer { statusCode: number, headers: Record<string, unknown>, body: string }

const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail', 'code', 'instance', 'request_id']

/** Checks the full RFC 9457 shape every error shares, then returns the parsed body. */
function assertProblem (t: Test, res: Answer, status: number, code: string, instance?: string): Record<string, any> {
  t.equal(res.statusCode, status, `answers ${status}`)
  t.ok(res.statusCode < 500 || status >= 500, 'is not a 5xx')
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'is application/problem+json')
  const body = JSON.parse(res.body) as Record<string, any>
  for (const field of PROBLEM_FIELDS) t.ok(field in body, `has ${field}`)
  t.equal(body.status, status, 'status in the body matches the response')
  t.equal(body.code, code)
  t.equal(body.type, `/problems/${code}`)
  t.type(body.title, 'string')
  t.type(body.detail, 'string')
  t.ok(body.detail.length > 0, 'detail is not empty')
  t.equal(body.request_id, res.headers['x-request-id'], 'request_id is the x-request-id header')
  if (instance !== undefined) t.equal(body.instance, instance, 'instance is the request path')
  return body
}

const { app, database } = await build(t)
const db = database.db

t.test('a malformed JSON body is a 400 malformed_body problem', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({
    method: 'POST', url: '/v1/api-keys', headers: { ...bearer(city.key), 'content-type': 'application/json' }, payload: '{"name": "portal", '
  })
  const body = assertProblem(t, res, 400, 'malformed_body', '/v1/api-keys')
  t.notMatch(body.detail, /Unexpected|position|JSON\.parse/, 'the parser\'s own message is not echoed')
})

t.test('an empty body sent as JSON is a 400 malformed_body problem', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({
    method: 'POST', url: '/v1/api-keys', headers: { ...bearer(city.key), 'content-type': 'application/json' }, payload: ''
  })
  assertProblem(t, res, 400, 'malformed_body', '/v1/api-keys')
})

t.test('wrong types and unknown fields are a 400 validation_failed listing each failing path', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({
    method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 42, scopes: 'admin', colour: 'blue' }
  })
  const body = assertProblem(t, res, 400, 'validation_failed', '/v1/api-keys')
  t.ok(Array.isArray(body.errors), 'errors is a list')
  const paths = (body.errors as Array<{ path: string, message: string }>).map((e) => e.path)
  t.ok(paths.includes('/body/name'), 'names /body/name')
  t.ok(paths.includes('/body/scopes'), 'names /body/scopes')
  t.ok(paths.includes('/body/colour'), 'names the unknown field /body/colour')
  t.same(body.errors.find((e: { path: string }) => e.path === '/body/colour'), { path: '/body/colour', message: 'is not a known field' })
  for (const e of body.errors) t.type(e.message, 'string')
})

t.test('a missing required field is listed by its path', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'portal' } })
  const body = assertProblem(t, res, 400, 'validation_failed')
  t.same(body.errors, [{ path: '/body/scopes', message: 'is required' }])
})

t.test('a string beyond its maxLength is a 400 validation_failed, not stored and not a 5xx', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({
    method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'x'.repeat(100_000), scopes: ['admin'] }
  })
  const body = assertProblem(t, res, 400, 'validation_failed')
  t.same(body.errors.map((e: { path: string }) => e.path), ['/body/name'])
  t.ok(body.detail.length <= 2000, 'detail stays short')
  t.ok(res.body.length < 5000, 'the huge value is not echoed back')
  const list = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  t.equal(list.json().data.length, 1, 'no key was created')
})

t.test('a NUL character, in a JSON body, an NDJSON line or a query, is a 400 and stores nothing', async (t) => {
  const city = await makeCityWithKey(db, ['admin', 'incidents:write', 'incidents:read', 'incidents:case'])
  const body = await app.inject({
    method: 'POST',
    url: '/v1/api-keys',
    headers: { ...bearer(city.key), 'content-type': 'application/json' },
    payload: '{"name":"portal\\u0000x","scopes":["incidents:read"]}'
  })
  t.equal(body.statusCode, 400)
  t.equal(body.json().code, 'malformed_body')
  const keys = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  t.equal(keys.json().data.length, 1, 'no key was created')

  const line = JSON.stringify({ source: 'ngo-a', external_id: 'nul-1', incident_type: 'bias_incident', bias_motivations: ['14'], occurred_on: '2024-01-02', summary: 'a\u0000b' })
  const ndjson = await app.inject({ method: 'POST', url: '/v1/incidents/batch', headers: { ...bearer(city.key), 'content-type': 'application/x-ndjson' }, payload: line + '\n' })
  t.equal(ndjson.statusCode, 200)
  t.equal(ndjson.json().items[0].outcome, 'rejected')
  t.match(ndjson.json().items[0].problems[0].message, /NUL/)

  const query = await app.inject({ method: 'GET', url: '/v1/incidents?neighborhood=a%00b', headers: bearer(city.key) })
  t.ok(query.statusCode >= 400 && query.statusCode < 500, `a NUL in a query is a 4xx (${query.statusCode})`)
  t.equal(query.headers['content-type'], 'application/problem+json; charset=utf-8')
})

t.test('a body over BODY_LIMIT_BYTES is a 413 payload_too_large problem', async (t) => {
  const small = await build(t, { BODY_LIMIT_BYTES: '2048' })
  const city = await makeCityWithKey(small.database.db)
  const res = await small.app.inject({
    method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'y'.repeat(4096), scopes: ['admin'] }
  })
  assertProblem(t, res, 413, 'payload_too_large', '/v1/api-keys')
  const fits = await small.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'fits', scopes: ['admin'] } })
  t.equal(fits.statusCode, 201, 'a body under the limit is accepted by the same app')
})

t.test('a text/plain body on PATCH /v1/city is a 415 unsupported_media_type problem', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({
    method: 'PATCH', url: '/v1/city', headers: { ...bearer(city.key), 'if-match': '*', 'content-type': 'text/plain' }, payload: 'name=Stamford'
  })
  assertProblem(t, res, 415, 'unsupported_media_type', '/v1/city')
})

t.test('an unknown route is a 404 not_found problem, with or without a key', async (t) => {
  const anonymous = await app.inject({ method: 'GET', url: '/v1/no-such-things?limit=3' })
  assertProblem(t, anonymous, 404, 'not_found', '/v1/no-such-things')
  const city = await makeCityWithKey(db)
  const keyed = await app.inject({ method: 'DELETE', url: '/nowhere', headers: bearer(city.key) })
  assertProblem(t, keyed, 404, 'not_found', '/nowhere')
})

t.test('an invalid UUID in a path is a 400 validation_failed naming /params/id', async (t) => {
  const city = await makeCityWithKey(db)
  for (const id of ['not-a-uuid', '1234', `${'0'.repeat(36)}x`, "1' OR '1'='1"]) {
    const res = await app.inject({ method: 'GET', url: `/v1/api-keys/${encodeURIComponent(id)}`, headers: bearer(city.key) })
    const body = assertProblem(t, res, 400, 'validation_failed')
    t.same([...new Set(body.errors.map((e: { path: string }) => e.path))], ['/params/id'], `${id} is refused by its path`)
  }
})

t.test('an invalid limit in a query is a 400 validation_failed naming /query/limit', async (t) => {
  const city = await makeCityWithKey(db)
  for (const limit of ['0', '201', 'abc', '-1', '5abc', '2.5', '1e2', '']) {
    const res = await app.inject({ method: 'GET', url: `/v1/api-keys?limit=${limit}`, headers: bearer(city.key) })
    const body = assertProblem(t, res, 400, 'validation_failed', '/v1/api-keys')
    t.same([...new Set(body.errors.map((e: { path: string }) => e.path))], ['/query/limit'], `limit=${limit} is refused`)
  }
  const ok = await app.inject({ method: 'GET', url: '/v1/api-keys?limit=200', headers: bearer(city.key) })
  t.equal(ok.statusCode, 200, 'the largest allowed limit is accepted')
})

t.test('an unknown query parameter is a 400 validation_failed naming it', async (t) => {
  const city = await makeCityWithKey(db)
  const res = await app.inject({ method: 'GET', url: '/v1/api-keys?colour=blue', headers: bearer(city.key) })
  const body = assertProblem(t, res, 400, 'validation_failed')
  t.same(body.errors, [{ path: '/query/colour', message: 'is not a known field' }])
})

/** The production app plus test-only routes that fail the way a driver or a bug would. */
async function appWithFailingRoutes (t: Test): Promise<FastifyInstance> {
  const { database } = await freshDatabase(t)
  const failing = await buildApp({ config: testConfig(), database }, false)
  failing.get('/test/throws', async () => {
    throw new Error('duplicate key value violates unique constraint "cities_slug_key" at SELECT * FROM cities WHERE secret = \'s3cr3t\'')
  })
  failing.get('/test/driver-error', async () => {
    // Shaped like a pg DatabaseError: a SQLSTATE the handler does not map, a table name and a hint.
    throw Object.assign(new Error('relation "incidents_private" does not exist'), {
      code: '42P01', severity: 'ERROR', table: 'incidents_private', hint: 'Check search_path', where: 'PL/pgSQL function leak()'
    })
  })
  failing.get('/test/rejects-string', async () => {
    // Not an Error at all, as a careless dependency might reject: still a quiet 500.
    return await Promise.reject(Object.assign(Object.create(null), { message: 'password=hunter2 in a rejection', statusCode: 599 }))
  })
  t.teardown(async () => { await failing.close() })
  await failing.ready()
  return failing
}

t.test('a 5xx is an internal_error problem that discloses nothing of the failure', async (t) => {
  const failing = await appWithFailingRoutes(t)
  for (const url of ['/test/throws', '/test/driver-error', '/test/rejects-string']) {
    const res = await failing.inject({ method: 'GET', url, headers: { 'x-request-id': 'trace-500-check' } })
    const body = assertProblem(t, res, 500, 'internal_error', url)
    t.equal(body.request_id, 'trace-500-check', 'the request id lets an operator find the logged error')
    t.notMatch(res.body, /SELECT|cities|secret|s3cr3t|unique constraint|42P01|incidents_private|search_path|PL\/pgSQL|hunter2|password|stack|at \//i,
      `${url} says nothing of SQL, tables, secrets or the stack`)
    t.equal(body.detail, 'An unexpected error occurred; it has been logged with the request id.')
    t.notOk('errors' in body, 'no error list on a 5xx')
  }
})

/** Sends raw bytes over a real socket (inject cannot exceed Node's parser limits) and reads the answer. */
async function rawRequest (port: number, request: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(5000, () => { socket.destroy(new Error('no answer within 5 s')) })
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const [head = '', ...rest] = text.split('\r\n\r\n')
      const [statusLine = '', ...headerLines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of headerLines) {
        const i = line.indexOf(':')
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({ statusCode: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') })
    })
    socket.write(request)
  })
}

t.test('requests Node\'s parser refuses still answer a problem document over a real socket', async (t) => {
  const listening = await build(t)
  await listening.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = listening.app.server.address() as AddressInfo

  t.test('a header block over the limit is a 431 problem', async (t) => {
    const res = await rawRequest(port, `GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
    t.equal(res.statusCode, 431)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    const body = JSON.parse(res.body)
    t.equal(body.status, 431)
    t.equal(body.code, 'request_header_fields_too_large')
    t.equal(body.type, '/problems/request_header_fields_too_large')
    t.type(body.title, 'string')
    t.type(body.detail, 'string')
  })

  t.test('a URL over the limit is a 4xx problem', async (t) => {
    const res = await rawRequest(port, `GET /v1/city?q=${'b'.repeat(64 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `answers a 4xx (${res.statusCode})`)
    t.ok([414, 431].includes(res.statusCode), 'as 414 or 431')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    const body = JSON.parse(res.body)
    t.equal(body.status, res.statusCode)
    t.ok(['uri_too_long', 'request_header_fields_too_large'].includes(body.code), `code ${body.code}`)
  })

  t.test('a broken request line is a 400 problem', async (t) => {
    const res = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n')
    t.equal(res.statusCode, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(JSON.parse(res.body).code, 'bad_request')
  })

  t.test('the server still answers normally afterwards', async (t) => {
    const res = await fetch(`http://127.0.0.1:${port}/health/live`)
    t.equal(res.status, 200)
    t.same(await res.json(), { status: 'ok' })
  })
})
