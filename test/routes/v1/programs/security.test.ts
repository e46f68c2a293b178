import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { createProgram, getProgram, program, programCount } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string> }
const operations = (id: string): Op[] => [
  { method: 'POST', url: '/v1/programs', payload: program() },
  { method: 'POST', url: '/v1/programs/batch', payload: [program({ external_id: 'x-1' })] },
  { method: 'GET', url: '/v1/programs' },
  { method: 'GET', url: `/v1/programs/${id}` },
  { method: 'PATCH', url: `/v1/programs/${id}`, payload: { active: false }, headers: { 'if-match': '*' } },
  { method: 'DELETE', url: `/v1/programs/${id}` }
]
const inject = async (op: Op, key?: string) =>
  await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

t.test('every program operation answers 401 without a key, and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createProgram(app, city.key)
  for (const op of operations(created.id)) {
    const res = await inject(op)
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
    t.equal(res.json().code, 'unauthorized')
  }
  t.equal(await programCount(db, city.id), 1)
  t.equal((await getProgram(app, city.key, created.id)).json().version, 1)
})

t.test('a key without the needed scope is 403: stakeholders:read cannot write, other scopes can do neither', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createProgram(app, city.key)
  const reader = await makeKey(db, city.id, ['stakeholders:read'])
  const unrelated = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'plans:write'])
  for (const op of operations(created.id)) {
    for (const [who, key] of [['stakeholders:read', reader.key], ['incidents + plans', unrelated.key]] as const) {
      if (who === 'stakeholders:read' && op.method === 'GET') continue
      const res = await inject(op, key)
      t.equal(res.statusCode, 403, `${who}: ${op.method} ${op.url}`)
      t.equal(res.json().code, 'forbidden')
    }
  }
  t.equal((await inject({ method: 'GET', url: '/v1/programs' }, reader.key)).statusCode, 200, 'stakeholders:read reads the directory')
  t.equal(await programCount(db, city.id), 1)
  t.equal((await getProgram(app, city.key, created.id)).json().version, 1)
})

t.test('another city\'s program answers 404 on GET, PATCH and DELETE, exactly like a random id, and is not listed', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, ['admin'])
  const foreign = await createProgram(app, theirs.key)
  const probes = (id: string): Op[] => operations(id).filter((op) => op.url.endsWith(id))
  const random = probes(randomUUID())
  for (const [i, op] of probes(foreign.id).entries()) {
    const res = await inject(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await inject(random[i] as Op, mine.key)), `${op.method}: the same answer as a random id`)
  }
  t.match((await getProgram(app, theirs.key, foreign.id)).json(), { version: 1, active: true }, 'the other city\'s program is untouched')
  const list = await app.inject({ method: 'GET', url: '/v1/programs', headers: bearer(mine.key) })
  t.same(list.json().data, [])
})

t.test('an incident cannot be referred to another city\'s program', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, ['admin'])
  const foreign = await createProgram(app, theirs.key)
  const incident = await app.inject({
    method: 'POST',
    url: '/v1/incidents',
    headers: bearer(mine.key),
    payload: { source: 'resident-portal', incident_type: 'bias_incident', bias_motivations: ['14'], occurred_on: '2024-03-01' }
  })
  const res = await app.inject({
    method: 'PATCH',
    url: `/v1/incidents/${incident.json().id as string}`,
    headers: { ...bearer(mine.key), 'if-match': '*' },
    payload: { referrals: [{ kind: 'program', id: foreign.id, referred_on: '2024-03-05' }] }
  })
  t.equal(res.statusCode, 422)
  t.same(res.json().errors.map((e: { path: string }) => e.path), ['/body/referrals/0/id'])
})
