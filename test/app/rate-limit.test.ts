import t from 'tap'
import { makeCityWithKey, makeKey } from '../factories.js'
import { bearer, build } from '../helper.js'

const { app, database } = await build(t, { RATE_LIMIT_MAX: '3' })
const db = database.db

t.test('the 4th request with the same key in the window is a 429 rate_limited problem with Retry-After', async (t) => {
  const city = await makeCityWithKey(db)
  for (let i = 1; i <= 3; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
    t.equal(res.statusCode, 200, `request ${i} is served`)
    t.equal(res.headers['ratelimit-remaining'], String(3 - i), `${3 - i} left after request ${i}`)
  }
  const res = await app.inject({ method: 'GET', url: '/v1/city', headers: { ...bearer(city.key), 'x-request-id': 'limited-1' } })
  t.equal(res.statusCode, 429)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/)
  const body = res.json()
  t.equal(body.code, 'rate_limited')
  t.equal(body.type, '/problems/rate_limited')
  t.equal(body.status, 429)
  t.equal(body.instance, '/v1/city')
  t.equal(body.request_id, 'limited-1')
  t.type(body.title, 'string')
  t.match(body.detail, /3 requests/, 'the detail names the allowance')
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After is whole seconds within the window (${String(res.headers['retry-after'])})`)
  t.equal(res.headers['ratelimit-remaining'], '0')
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'a 429 keeps the security headers')

  const again = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(again.statusCode, 429, 'it stays limited for the rest of the window')
})

t.test('writes count against the same allowance and are refused before they run', async (t) => {
  const city = await makeCityWithKey(db)
  for (let i = 0; i < 3; i++) await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(city.key) })
  const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(city.key), payload: { name: 'over the limit', scopes: ['admin'] } })
  t.equal(res.statusCode, 429)
  t.equal(res.json().code, 'rate_limited')
  const other = await makeKey(db, city.id)
  const keys = await app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(other.key) })
  t.equal(keys.statusCode, 200)
  t.equal(keys.json().data.length, 2, 'the refused POST created no key')
})

t.test('another key is not affected by a key that used its allowance, even in the same city', async (t) => {
  const city = await makeCityWithKey(db)
  const sibling = await makeKey(db, city.id)
  const stranger = await makeCityWithKey(db)
  for (let i = 0; i < 4; i++) await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  const limited = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(limited.statusCode, 429, 'the first key is limited')
  for (const [name, key] of [['a sibling key', sibling.key], ['another city\'s key', stranger.key]] as const) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(key) })
    t.equal(res.statusCode, 200, `${name} is still served`)
    t.equal(res.headers['ratelimit-remaining'], '2', `${name} has its own allowance`)
  }
})

t.test('requests without a key are counted per client address', async (t) => {
  const from = (remoteAddress: string) => app.inject({ method: 'GET', url: '/v1/city', remoteAddress })
  for (let i = 0; i < 3; i++) t.equal((await from('192.0.2.10')).statusCode, 401, 'an anonymous request is answered 401')
  const limited = await from('192.0.2.10')
  t.equal(limited.statusCode, 429, 'the 4th from the same address is limited')
  t.equal(limited.json().code, 'rate_limited')
  t.equal((await from('192.0.2.11')).statusCode, 401, 'another address is not affected')
})

t.test('an unknown key is counted before it is checked, so repeating it is limited too', async (t) => {
  const guess = bearer(`coh_${'0'.repeat(40)}`)
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: guess })
    t.equal(res.statusCode, 401, 'the unknown key is refused')
    t.equal(res.headers['ratelimit-remaining'], String(2 - i), 'and counted')
  }
  const limited = await app.inject({ method: 'GET', url: '/v1/city', headers: guess })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'rate_limited')
})

t.test('health routes are never rate limited', async (t) => {
  for (const url of ['/health/live', '/health/ready']) {
    for (let i = 0; i < 10; i++) {
      const res = await app.inject({ method: 'GET', url, remoteAddress: '192.0.2.50' })
      t.equal(res.statusCode, 200, `${url} request ${i + 1} is served`)
      t.equal(res.headers['ratelimit-limit'], undefined, 'and carries no allowance')
    }
  }
  const api = await app.inject({ method: 'GET', url: '/v1/city', remoteAddress: '192.0.2.50' })
  t.equal(api.statusCode, 401, 'health checks did not use the address\'s API allowance')
  t.equal(api.headers['ratelimit-remaining'], '2')
})
