import { randomBytes } from 'node:crypto'
import t from 'tap'
import { bearer, build, countStatements } from '../helper.js'
import { makeCityWithKey } from '../factories.js'

const ALLOWANCE = 50
const guess = (): Record<string, string> => bearer(`coh_${randomBytes(24).toString('base64url')}`)

t.test('1,200 requests from one address, each with a new made-up key: 401 until its allowance is spent, then 429, and no look-up after that', async (t) => {
  const { app, database } = await build(t, { RATE_LIMIT_MAX: String(ALLOWANCE) })
  const lookups = countStatements(database, /from "api_keys"/i)
  const statuses = new Map<number, number>()
  for (let i = 0; i < 1200; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: guess(), remoteAddress: '198.51.100.7' })
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
  }
  t.same(Object.fromEntries(statuses), { 401: ALLOWANCE, 429: 1200 - ALLOWANCE }, 'the address is limited like a key')
  t.ok(lookups.count() <= ALLOWANCE, `at most one look-up per allowed request (${lookups.count()})`)
  const other = await app.inject({ method: 'GET', url: '/v1/city', headers: guess(), remoteAddress: '198.51.100.8' })
  t.equal(other.statusCode, 401, 'another address keeps its own allowance')
})

t.test('a wrong key sent again and again is looked up once, then remembered as unknown', async (t) => {
  const { app, database } = await build(t, { RATE_LIMIT_MAX: String(ALLOWANCE) })
  const lookups = countStatements(database, /from "api_keys"/i)
  const wrong = guess()
  for (let i = 0; i < 30; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/city', headers: wrong, remoteAddress: '198.51.100.20' })
    t.equal(res.statusCode, 401)
  }
  t.equal(lookups.count(), 1, 'one look-up for thirty requests')
})

t.test('a valid key draws on its own allowance from its first request, and is looked up once within the cache time', async (t) => {
  const { app, database } = await build(t, { RATE_LIMIT_MAX: String(ALLOWANCE) })
  const city = await makeCityWithKey(database.db)
  const lookups = countStatements(database, /from "api_keys"/i)
  const first = await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key), remoteAddress: '198.51.100.30' })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['ratelimit-remaining'], String(ALLOWANCE - 1), 'the first request counts against the key')
  const anonymous = await app.inject({ method: 'GET', url: '/v1/city', remoteAddress: '198.51.100.30' })
  t.equal(anonymous.headers['ratelimit-remaining'], String(ALLOWANCE - 1), 'and not against the address')
  for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url: '/v1/city', headers: bearer(city.key) })
  t.equal(lookups.count(), 1, 'one look-up serves the following requests')
})

t.test('behind a trusted proxy, the allowance of requests without a valid key is per forwarded client address', async (t) => {
  const { app } = await build(t, { RATE_LIMIT_MAX: '3', TRUST_PROXY: 'true' })
  const from = async (client: string) => await app.inject({ method: 'GET', url: '/v1/city', headers: { 'x-forwarded-for': client }, remoteAddress: '10.0.0.1' })
  for (let i = 0; i < 3; i++) t.equal((await from('203.0.113.1')).statusCode, 401)
  t.equal((await from('203.0.113.1')).statusCode, 429, 'the fourth from that client is limited')
  t.equal((await from('203.0.113.2')).statusCode, 401, 'another client behind the same proxy is not')
})
