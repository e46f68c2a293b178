import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'

const { app, database } = await build(t)
const db = database.db

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>, scope: string }
const person = { kind: 'person', name: 'Maria Lopez', category: 'city_staff', contact: { email: 'maria@city.example.gov' } }
const operations = (id: string): Op[] => [
  { method: 'POST', url: '/v1/stakeholders', payload: person, scope: 'stakeholders:write' },
  { method: 'POST', url: '/v1/stakeholders/batch', payload: [{ ...person, external_id: 'x' }], scope: 'stakeholders:write' },
  { method: 'GET', url: '/v1/stakeholders', scope: 'stakeholders:read' },
  { method: 'GET', url: `/v1/stakeholders/${id}`, scope: 'stakeholders:read' },
  { method: 'PATCH', url: `/v1/stakeholders/${id}`, payload: { name: 'x' }, headers: { 'if-match': '*' }, scope: 'stakeholders:write' },
  { method: 'DELETE', url: `/v1/stakeholders/${id}`, scope: 'stakeholders:write' },
  { method: 'DELETE', url: `/v1/stakeholders/${id}/contact`, scope: 'stakeholders:write' }
]
const send = async (op: Op, key?: string) => await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

async function stakeholderOf (key: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/stakeholders', headers: bearer(key), payload: person })
  return res.json().id as string
}

t.test('every stakeholders operation answers 401 without a key', async (t) => {
  const city = await makeCityWithKey(db, ['stakeholders:write', 'stakeholders:read'])
  const id = await stakeholderOf(city.key)
  for (const op of operations(id)) t.equal((await send(op)).statusCode, 401, `${op.method} ${op.url}`)
})

t.test('a key without the needed scope is 403, and the contact scope alone neither reads nor writes', async (t) => {
  const city = await makeCityWithKey(db, ['stakeholders:write', 'stakeholders:read'])
  const id = await stakeholderOf(city.key)
  const reader = await makeKey(db, city.id, ['stakeholders:read'])
  const contactOnly = await makeKey(db, city.id, ['stakeholders:read_contact'])
  const incidents = await makeKey(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  for (const op of operations(id)) {
    if (op.scope === 'stakeholders:write') t.equal((await send(op, reader.key)).statusCode, 403, `read-only: ${op.method} ${op.url}`)
    t.equal((await send(op, contactOnly.key)).statusCode, 403, `contact only: ${op.method} ${op.url}`)
    t.equal((await send(op, incidents.key)).statusCode, 403, `incidents key: ${op.method} ${op.url}`)
  }
  const admin = await makeKey(db, city.id, ['admin'])
  t.notOk('contact' in (await send({ method: 'GET', url: `/v1/stakeholders/${id}`, scope: '' }, admin.key)).json(), 'admin does not imply the contact scope')
})

t.test('another city\'s stakeholder answers 404 exactly like a random id, and is never listed', async (t) => {
  const mine = await makeCityWithKey(db, ['admin', 'stakeholders:read_contact'])
  const theirs = await makeCityWithKey(db, ['stakeholders:write', 'stakeholders:read'])
  const foreign = await stakeholderOf(theirs.key)
  const probes = (id: string): Op[] => operations(id).filter((op) => op.url.includes(id))
  const random = probes(randomUUID())
  for (const [i, op] of probes(foreign).entries()) {
    const res = await send(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await send(random[i] as Op, mine.key)), `${op.method}: the same answer as a random id`)
  }
  t.same((await send({ method: 'GET', url: '/v1/stakeholders', scope: '' }, mine.key)).json().data, [])
  const after = (await send({ method: 'GET', url: `/v1/stakeholders/${foreign}`, scope: '' }, theirs.key)).json()
  t.equal(after.version, 1, 'untouched')
  t.equal(after.personal_data, 'held', 'its contact details were not erased')
})
