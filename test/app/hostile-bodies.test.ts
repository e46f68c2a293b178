import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { makeCityWithKey } from '../factories.js'
import { bearer, build, expectProblem } from '../helper.js'
import { createIncident, etagOf, getIncident, incidentCount, report } from '../routes/v1/incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

const SCOPES = ['admin', 'incidents:write', 'incidents:read', 'incidents:case'] as const
const NDJSON = 'application/x-ndjson'
const MERGE_PATCH = 'application/merge-patch+json'
const BATCH_BODY_LIMIT = 16 * 1024 * 1024

/** Arrays nested `depth` levels deep, as JSON text: `[[...]]`. */
const nestedArrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
/** Objects nested `depth` levels deep, as JSON text: `{"a":{"a":...1}}`. */
const nestedObjects = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
/** A valid JSON object's text with one more member whose value is the given JSON text. */
const withMember = (body: Record<string, unknown>, name: string, json: string): string => JSON.stringify(body).replace(/}$/, `,${JSON.stringify(name)}:${json}}`)

const HOSTILE_DEPTH = 20_000

const send = async (method: 'POST' | 'PATCH', url: string, key: string, contentType: string, payload: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  await app.inject({ method, url, headers: { ...bearer(key), 'content-type': contentType, ...headers }, payload })

async function keyCount (key: string): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/v1/api-keys?limit=200', headers: bearer(key) })
  return (res.json().data as unknown[]).length
}

async function cityState (key: string): Promise<{ etag: string, name: string, languages: unknown }> {
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(key) })
  return { etag: res.headers.etag as string, name: res.json().name, languages: res.json().languages }
}

t.test('20,000 nested arrays or objects are a 400 malformed_body on every JSON body, not a 500, and nothing is stored', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const keysBefore = await keyCount(city.key)
  const cityBefore = await cityState(city.key)
  const incident = await createIncident(app, city.key, report())
  const incidentEtag = await etagOf(app, city.key, incident.id)

  for (const [shape, deep] of [['arrays', nestedArrays(HOSTILE_DEPTH)], ['objects', nestedObjects(HOSTILE_DEPTH)]] as const) {
    const cases: Array<[string, () => Promise<LightMyRequestResponse>]> = [
      ['POST /v1/incidents, the whole body', async () => await send('POST', '/v1/incidents', city.key, 'application/json', deep)],
      ['POST /v1/incidents, inside a report', async () => await send('POST', '/v1/incidents', city.key, 'application/json', withMember(report(), 'location', deep))],
      ['POST /v1/incidents/batch as a JSON array', async () => await send('POST', '/v1/incidents/batch', city.key, 'application/json', `[${withMember(report(), 'narrative', deep)}]`)],
      ['POST /v1/api-keys', async () => await send('POST', '/v1/api-keys', city.key, 'application/json', withMember({ name: 'deep', scopes: ['incidents:read'] }, 'meta', deep))],
      ['PATCH /v1/city as application/json', async () => await send('PATCH', '/v1/city', city.key, 'application/json', withMember({ name: 'Deep City' }, 'languages', deep), { 'if-match': cityBefore.etag })],
      ['PATCH /v1/city as merge-patch', async () => await send('PATCH', '/v1/city', city.key, MERGE_PATCH, withMember({ name: 'Deep City' }, 'languages', deep), { 'if-match': cityBefore.etag })],
      ['PATCH /v1/incidents/{id} as merge-patch', async () => await send('PATCH', `/v1/incidents/${incident.id as string}`, city.key, MERGE_PATCH, withMember({ summary: 'Deep change.' }, 'location', deep), { 'if-match': incidentEtag })]
    ]
    for (const [what, attempt] of cases) {
      const res = await attempt()
      expectProblem(t, res, 400, 'malformed_body', `${shape}: ${what}`)
      t.match(res.json().detail, /64 levels/, `${shape}: ${what}: the detail names the limit`)
      t.equal(res.json().request_id, res.headers['x-request-id'], `${shape}: ${what}: a complete problem`)
    }
  }

  t.equal(await incidentCount(db, city.id), 1, 'no incident was created')
  t.equal(await keyCount(city.key), keysBefore, 'no API key was created')
  t.same(await cityState(city.key), cityBefore, 'the city is unchanged')
  const after = (await getIncident(app, city.key, incident.id)).json()
  t.equal(after.version, incident.version, 'the incident is unchanged')
  t.equal(after.summary, incident.summary)

  const live = await app.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200, 'the process still answers')
  const fine = await send('PATCH', `/v1/incidents/${incident.id as string}`, city.key, MERGE_PATCH, JSON.stringify({ summary: 'A shallow change.' }), { 'if-match': incidentEtag })
  t.equal(fine.statusCode, 200, 'the same PATCH without the deep member is accepted as a merge patch')
  t.equal(fine.json().summary, 'A shallow change.')
})

t.test('64 levels of nesting reach the schema; 65 levels are refused as malformed_body before it', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const at = await send('POST', '/v1/api-keys', city.key, 'application/json', nestedArrays(64))
  expectProblem(t, at, 400, 'validation_failed', '64 levels: an array where an object belongs')
  const over = await send('POST', '/v1/api-keys', city.key, 'application/json', nestedArrays(65))
  expectProblem(t, over, 400, 'malformed_body', '65 levels')
  const overObjects = await send('POST', '/v1/api-keys', city.key, 'application/json', nestedObjects(65))
  expectProblem(t, overObjects, 400, 'malformed_body', '65 levels of objects')
})

t.test('a NUL character in a member name or in a nested string is a 400 malformed_body, on JSON and merge-patch bodies alike', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const keysBefore = await keyCount(city.key)
  const cityBefore = await cityState(city.key)
  // JSON.stringify writes the NUL character as the escape \u0000, as a client would send it.
  const bodies: Array<[string, 'POST' | 'PATCH', string, string, Record<string, unknown>]> = [
    ['a member name of an API key', 'POST', '/v1/api-keys', 'application/json', { name: 'portal', scopes: ['incidents:read'], 'x\u0000y': 1 }],
    ['a string deep inside an API key', 'POST', '/v1/api-keys', 'application/json', { name: 'portal', scopes: ['incidents:read'], meta: [[{ note: 'a\u0000b' }]] }],
    ['a nested member name of a report', 'POST', '/v1/incidents', 'application/json', report({ location: { location_type: '57', 'neighbor\u0000hood': 'Downtown' } })],
    ['a nested string of a report', 'POST', '/v1/incidents', 'application/json', report({ location: { location_type: '57', neighborhood: 'Down\u0000town' } })],
    ['the city name in a merge patch', 'PATCH', '/v1/city', MERGE_PATCH, { name: 'Nul\u0000City' }],
    ['a member name in a merge patch', 'PATCH', '/v1/city', MERGE_PATCH, { 'name\u0000': 'Nul City' }]
  ]
  for (const [what, method, url, type, body] of bodies) {
    const res = await send(method, url, city.key, type, JSON.stringify(body), method === 'PATCH' ? { 'if-match': cityBefore.etag } : {})
    expectProblem(t, res, 400, 'malformed_body', what)
    t.match(res.json().detail, /NUL/, `${what}: the detail says why`)
  }
  t.equal(await keyCount(city.key), keysBefore, 'no API key was created')
  t.equal(await incidentCount(db, city.id), 0, 'no incident was created')
  t.same(await cityState(city.key), cityBefore, 'the city is unchanged')
})

t.test('a __proto__ member, or a constructor holding a prototype, anywhere in a body is a 400 malformed_body and changes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const keysBefore = await keyCount(city.key)
  const cityBefore = await cityState(city.key)
  // Written as text: a JavaScript object literal's __proto__ would set its prototype rather than hold a member.
  const bodies: Array<[string, 'POST' | 'PATCH', string, string, string]> = [
    ['__proto__ at the top of an API key', 'POST', '/v1/api-keys', 'application/json', '{"name":"portal","scopes":["admin"],"__proto__":{"admin":true}}'],
    ['__proto__ escaped, deep in a report', 'POST', '/v1/incidents', 'application/json', withMember(report(), 'location', '{"location_type":"57","\\u005f_proto__":{"x":1}}')],
    ['constructor.prototype in a report', 'POST', '/v1/incidents', 'application/json', withMember(report(), 'online', '{"is_online":true,"constructor":{"prototype":{"polluted":true}}}')],
    ['__proto__ in a merge patch', 'PATCH', '/v1/city', MERGE_PATCH, '{"name":"Proto City","__proto__":{"languages":["xx"]}}'],
    ['constructor.prototype in a batch', 'POST', '/v1/incidents/batch', 'application/json', `[${withMember(report(), 'constructor', '{"prototype":{}}')}]`]
  ]
  for (const [what, method, url, type, body] of bodies) {
    const res = await send(method, url, city.key, type, body, method === 'PATCH' ? { 'if-match': cityBefore.etag } : {})
    expectProblem(t, res, 400, 'malformed_body', what)
    t.match(res.json().detail, /__proto__/, `${what}: the detail says why`)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched')
  const named = await send('POST', '/v1/api-keys', city.key, 'application/json', '{"name":"constructor","scopes":["incidents:read"]}', { 'idempotency-key': 'proto-named' })
  t.equal(named.statusCode, 201, 'the word itself, as a value, is fine')
  t.equal(await keyCount(city.key), keysBefore + 1, 'no API key was created by the refused bodies')
  t.equal(await incidentCount(db, city.id), 0, 'no incident was created')
  t.same(await cityState(city.key), cityBefore, 'the city is unchanged')

  const lines = [JSON.stringify(report()), withMember(report(), '__proto__', '{"x":1}')]
  const batch = await send('POST', '/v1/incidents/batch', city.key, NDJSON, lines.join('\n'))
  t.equal(batch.statusCode, 200)
  t.same(batch.json().items.map((i: Item) => i.outcome), ['created', 'rejected'], 'an NDJSON line with __proto__ is a rejected item')
  t.match(batch.json().items[1].problems[0].message, /^line 2: .*__proto__/)
})

type Item = { index: number, id: string | null, outcome: string, problems: Array<{ path: string, message: string }> }

t.test('NDJSON: a line too deep, holding a NUL or not JSON is a rejected item on /body/<index>; good lines are created; CRLF and blank lines are fine', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const first = report()
  const last = report()
  const lines = [
    JSON.stringify(first), // item 0, line 1
    '', // line 2: blank
    withMember(report(), 'narrative', nestedArrays(HOSTILE_DEPTH)), // item 1, line 3
    JSON.stringify(report({ summary: 'a\u0000b' })), // item 2, line 4
    JSON.stringify({ ...report(), 'x\u0000': 1 }), // item 3, line 5
    '{"source": "ngo-a", "external_id": ', // item 4, line 6
    ' \t ', // line 7: blank
    JSON.stringify(last) // item 5, line 8
  ]
  const res = await send('POST', '/v1/incidents/batch', city.key, NDJSON, lines.join('\r\n') + '\r\n')
  t.equal(res.statusCode, 200, 'the batch is answered, not a 4xx or 5xx')
  const items: Item[] = res.json().items
  t.same(items.map((i) => i.index), [0, 1, 2, 3, 4, 5], 'one answer per non-blank line')
  t.same(items.map((i) => i.outcome), ['created', 'rejected', 'rejected', 'rejected', 'rejected', 'created'])
  t.same(res.json().summary, { created: 2, updated: 0, unchanged: 0, accepted: 0, rejected: 4 })
  for (const index of [1, 2, 3, 4]) {
    t.same(items[index]?.problems.map((p) => p.path), [`/body/${index}`], `item ${index} is rejected on /body/${index}`)
    t.equal(items[index]?.id, null, `item ${index} has no incident`)
  }
  t.match(items[1]?.problems[0]?.message, /^line 3: .*64 levels/, 'too deep, naming its line')
  t.match(items[2]?.problems[0]?.message, /^line 4: .*NUL/, 'a NUL in a value, naming its line')
  t.match(items[3]?.problems[0]?.message, /^line 5: .*NUL/, 'a NUL in a member name, naming its line')
  t.match(items[4]?.problems[0]?.message, /^line 6 is not valid JSON/, 'not JSON, naming its line')
  t.equal(await incidentCount(db, city.id), 2, 'the two good lines, and only they, are stored')
  const stored = await app.inject({ method: 'GET', url: '/v1/incidents?limit=10', headers: bearer(city.key) })
  t.same(stored.json().data.map((i: { external_id: string }) => i.external_id).sort(), [first.external_id, last.external_id].sort())
})

const ndjsonLines = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => JSON.stringify(report({ external_id: `${prefix}-${i}` })))

t.test('NDJSON: more than 1,000 non-blank lines is a 400 validation_failed and writes nothing; 1,000 lines among blank ones are accepted', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const tooMany = await send('POST', '/v1/incidents/batch', city.key, NDJSON, ndjsonLines(1001, 'many').join('\n') + '\n')
  expectProblem(t, tooMany, 400, 'validation_failed', '1,001 lines')
  t.same(tooMany.json().errors, [{ path: '/body', message: 'must have at most 1000 items' }])
  t.equal(await incidentCount(db, city.id), 0, 'nothing written')

  // Blank lines (and CRLF line ends) do not count as items.
  const exactly = ndjsonLines(1000, 'full').flatMap((line, i) => i % 100 === 0 ? [line, '', '   '] : [line]).join('\r\n') + '\r\n\r\n'
  const res = await send('POST', '/v1/incidents/batch?dry_run=true', city.key, NDJSON, exactly)
  t.equal(res.statusCode, 200, '1,000 items with 20 blank lines among them are one full batch')
  t.same(res.json().summary, { created: 1000, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  t.equal(await incidentCount(db, city.id), 0, 'a dry run writes nothing')
})

t.test('NDJSON: a body over 16 MiB is a 413 payload_too_large problem', async (t) => {
  const city = await makeCityWithKey(db, [...SCOPES])
  const line = JSON.stringify(report({ summary: 'x'.repeat(1000) }))
  const body = Array.from({ length: Math.ceil((BATCH_BODY_LIMIT + 1) / (line.length + 1)) }, () => line).join('\n') + '\n'
  t.ok(Buffer.byteLength(body) > BATCH_BODY_LIMIT, 'the body is over the limit')
  const res = await send('POST', '/v1/incidents/batch', city.key, NDJSON, body)
  expectProblem(t, res, 413, 'payload_too_large', 'an NDJSON body over 16 MiB')
  t.equal(await incidentCount(db, city.id), 0)
})

interface Answer { statusCode: number, headers: IncomingHttpHeaders, body: string }

/**
 * Sends a chunked POST over a real socket, writes the given chunks and never ends the body; resolves with the
 * answer if one arrives within `timeoutMs`. The request is destroyed afterwards either way.
 */
async function answerBeforeEnd (port: number, path: string, headers: Record<string, string>, chunks: Array<string | Buffer>, timeoutMs: number): Promise<Answer> {
  return await new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } })
    const finish = (fn: () => void): void => { clearTimeout(timer); fn(); req.destroy() }
    const timer = setTimeout(() => { finish(() => { reject(new Error(`no answer within ${timeoutMs} ms while the body was still open`)) }) }, timeoutMs)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { finish(() => { resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }) }) })
      res.on('error', (err) => { finish(() => { reject(err) }) })
    })
    req.on('error', (err) => { finish(() => { reject(err) }) })
    req.flushHeaders()
    for (const chunk of chunks) req.write(chunk)
    // No req.end(): the body stays open, as a client still streaming (or stalling) would leave it.
  })
}

/** The same check as expectProblem, for an answer read off a socket. */
function expectSocketProblem (t: Test, res: Answer, status: number, code: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`)
  const body = JSON.parse(res.body)
  t.equal(body.code, code, `${what}: code ${code}`)
  t.equal(body.status, status, `${what}: status in the body`)
  t.equal(body.request_id, res.headers['x-request-id'], `${what}: request_id is the x-request-id header`)
}

async function listening (t: Test): Promise<{ server: FastifyInstance, port: number, db: typeof db }> {
  const built = await build(t)
  await built.app.listen({ port: 0, host: '127.0.0.1' })
  return { server: built.app, port: (built.app.server.address() as AddressInfo).port, db: built.database.db }
}

t.test('NDJSON is counted as it is read: the 1,001st line is refused with a 400 while the body is still open', async (t) => {
  const { server, port, db: serverDb } = await listening(t)
  const city = await makeCityWithKey(serverDb, [...SCOPES])
  const lines = ndjsonLines(1001, 'stream').map((line) => line + '\n')
  // Sent in pieces that split lines, as a socket would deliver them.
  const text = lines.join('')
  const chunks = Array.from({ length: Math.ceil(text.length / 7000) }, (_, i) => text.slice(i * 7000, (i + 1) * 7000))
  const res = await answerBeforeEnd(port, '/v1/incidents/batch', { ...bearer(city.key), 'content-type': NDJSON }, chunks, 10_000)
  expectSocketProblem(t, res, 400, 'validation_failed', '1,001 lines of an unfinished body')
  t.same(JSON.parse(res.body).errors, [{ path: '/body', message: 'must have at most 1000 items' }])
  t.equal(await incidentCount(serverDb, city.id), 0, 'nothing written')
  const live = await server.inject({ method: 'GET', url: '/health/live' })
  t.equal(live.statusCode, 200, 'the server still answers')
})

t.test('NDJSON bytes are counted as they are read: a body past 16 MiB without Content-Length is a 413 while still open', async (t) => {
  const { port, db: serverDb } = await listening(t)
  const city = await makeCityWithKey(serverDb, [...SCOPES])
  // One line that never ends: no item can be counted, only bytes.
  const piece = Buffer.alloc(1024 * 1024, 'x')
  const chunks = [Buffer.from('{"summary":"'), ...Array.from({ length: 17 }, () => piece)]
  const res = await answerBeforeEnd(port, '/v1/incidents/batch', { ...bearer(city.key), 'content-type': NDJSON }, chunks, 15_000)
  expectSocketProblem(t, res, 413, 'payload_too_large', 'an unfinished body past 16 MiB')
  t.equal(await incidentCount(serverDb, city.id), 0, 'nothing written')
})
