import { randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { makeCityWithKey } from '../factories.js'
import { bearer, build, expectProblem } from '../helper.js'

const PORTAL = 'https://portal.example.gov'
const ELSEWHERE = 'https://elsewhere.example.com'

const list = (value: unknown): string[] => String(value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)

/**
 * Keeps the event loop busy in 40 ms slices for longer than one sampling interval, as a flood of heavy work
 * would. The load-shedding check keeps the delay it sampled until its next sample, a second later.
 */
async function pressure (ms: number): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    const slice = Date.now() + 40
    while (Date.now() < slice) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
}

t.test('under event-loop pressure that sheds GET /v1/city with a 503, GET /health/live still answers 200', async (t) => {
  const { app, database } = await build(t, { MAX_EVENT_LOOP_DELAY_MS: '20' })
  const city = await makeCityWithKey(database.db)
  // Start-up work (building the app, cloning the database) can itself be sampled as a delay: wait for calm first.
  let calm = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  for (const deadline = Date.now() + 5000; calm.statusCode === 503 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    calm = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  }
  t.equal(calm.statusCode, 200, 'without pressure the city is served')

  // A sample covers the second before it: one taken early in the pressure is mostly calm. The pressure goes on
  // (a few times at most) until a sample has seen a whole second of it.
  let answers: LightMyRequestResponse[] = []
  for (let attempt = 0; attempt < 4 && answers[1]?.statusCode !== 503; attempt++) {
    await pressure(1100)
    answers = await Promise.all([
      app.inject({ method: 'GET', url: '/health/live' }),
      app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) }),
      app.inject({ method: 'GET', url: '/health/live' })
    ])
  }
  const [live, shed, liveAgain] = answers as [LightMyRequestResponse, LightMyRequestResponse, LightMyRequestResponse]

  expectProblem(t, shed, 503, 'service_unavailable', 'GET /v1/city under pressure')
  t.ok(Number(shed.headers['retry-after']) > 0, 'Retry-After says when to come back')

  for (const [what, res] of [['liveness', live], ['liveness again', liveAgain]] as const) {
    t.equal(res.statusCode, 200, `${what} is not shed`)
    t.match(String(res.headers['content-type']), /^application\/json/, `${what} is JSON`)
    t.same(res.json(), { status: 'ok' }, `${what} says ok`)
    t.equal(res.headers['retry-after'], undefined, `${what} does not ask to come back later`)
  }
})

const { app, database } = await build(t, { CORS_ORIGINS: PORTAL })
const db = database.db

async function preflight (server: FastifyInstance, origin: string, method: string, url: string): Promise<LightMyRequestResponse> {
  return await server.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type, idempotency-key, if-match' }
  })
}

t.test('a preflight from a configured portal allows PUT, PATCH and DELETE, with the headers a portal sends', async (t) => {
  const id = randomUUID()
  for (const [method, url] of [['PATCH', '/v1/city'], ['PATCH', `/v1/incidents/${id}`], ['PUT', '/v1/city'], ['PUT', `/v1/incidents/${id}`],
    ['DELETE', `/v1/incidents/${id}/personal-data`], ['DELETE', `/v1/api-keys/${id}`]] as const) {
    const what = `${method} ${url}`
    const res = await preflight(app, PORTAL, method, url)
    t.equal(res.statusCode, 204, `${what}: the preflight succeeds`)
    t.equal(res.headers['access-control-allow-origin'], PORTAL, `${what}: the portal is allowed`)
    const methods = list(res.headers['access-control-allow-methods'])
    for (const allowed of ['get', 'post', 'put', 'patch', 'delete']) t.ok(methods.includes(allowed), `${what}: allows ${allowed.toUpperCase()}`)
    const headers = list(res.headers['access-control-allow-headers'])
    for (const header of ['authorization', 'content-type', 'idempotency-key', 'if-match']) t.ok(headers.includes(header), `${what}: allows ${header}`)

    const refused = await preflight(app, ELSEWHERE, method, url)
    t.equal(refused.headers['access-control-allow-origin'], undefined, `${what}: an origin that is not configured is not allowed`)
  }
})

const EXPOSED = ['etag', 'location', 'content-disposition', 'retry-after', 'x-request-id', 'idempotent-replayed', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']

t.test('answers to a configured portal expose every documented response header, on successes and problems alike', async (t) => {
  const city = await makeCityWithKey(db)
  const fromPortal = { ...bearer(city.key), origin: PORTAL }
  const created = { method: 'POST', url: '/v1/api-keys', headers: { ...fromPortal, 'idempotency-key': `cors-${randomUUID()}` }, payload: { name: 'portal', scopes: ['incidents:read'] } } as const
  const answers: Array<[string, LightMyRequestResponse]> = [
    ['GET /v1/city', await app.inject({ method: 'GET', url: '/v1/city', headers: fromPortal })],
    ['POST /v1/api-keys', await app.inject(created)],
    ['POST /v1/api-keys replayed', await app.inject(created)],
    ['a 401 problem', await app.inject({ method: 'GET', url: '/v1/city', headers: { origin: PORTAL } })],
    ['a 404 problem', await app.inject({ method: 'DELETE', url: `/v1/api-keys/${randomUUID()}`, headers: fromPortal })]
  ]
  t.equal(answers[0]?.[1].statusCode, 200)
  t.ok(answers[0]?.[1].headers.etag, 'the city answer carries an ETag for the portal to read')
  t.equal(answers[1]?.[1].statusCode, 201)
  t.ok(answers[1]?.[1].headers.location, 'the created key has a Location')
  t.equal(answers[2]?.[1].headers['idempotent-replayed'], 'true', 'the replay says so')
  t.equal(answers[3]?.[1].statusCode, 401)
  t.equal(answers[4]?.[1].statusCode, 404)
  for (const [what, res] of answers) {
    t.equal(res.headers['access-control-allow-origin'], PORTAL, `${what}: the portal may read it`)
    const exposed = list(res.headers['access-control-expose-headers'])
    for (const header of EXPOSED) t.ok(exposed.includes(header), `${what}: exposes ${header}`)
  }
})

t.test('an origin that is not configured gets no Access-Control-Allow-Origin on PATCH, PUT or DELETE answers', async (t) => {
  const city = await makeCityWithKey(db)
  for (const [method, url] of [['PATCH', '/v1/city'], ['PUT', '/v1/city'], ['DELETE', `/v1/api-keys/${randomUUID()}`]] as const) {
    const res = await app.inject({ method, url, headers: { ...bearer(city.key), origin: ELSEWHERE, 'if-match': '*' }, ...(method === 'DELETE' ? {} : { payload: {} }) })
    t.ok(res.statusCode >= 200, `${method} ${url} answers (${res.statusCode})`)
    t.equal(res.headers['access-control-allow-origin'], undefined, `${method} ${url}: not allowed`)
  }
})
