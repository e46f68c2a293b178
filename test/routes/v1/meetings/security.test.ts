import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey, makeKey, makeStakeholder } from '../../../factories.js'
import { attendeeCount, createMeeting, getMeeting, meeting, meetingCount } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string> }
const operations = (id: string): Op[] => [
  { method: 'POST', url: '/v1/meetings', payload: meeting() },
  { method: 'GET', url: '/v1/meetings' },
  { method: 'GET', url: `/v1/meetings/${id}` },
  { method: 'PATCH', url: `/v1/meetings/${id}`, payload: { title: 'Taken over' }, headers: { 'if-match': '*' } },
  { method: 'DELETE', url: `/v1/meetings/${id}` }
]
const inject = async (op: Op, key?: string) =>
  await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

t.test('every meeting operation answers 401 without a key, and writes nothing', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createMeeting(app, city.key)
  for (const op of operations(created.id)) {
    const res = await inject(op)
    t.equal(res.statusCode, 401, `${op.method} ${op.url}`)
    t.equal(res.json().code, 'unauthorized')
  }
  t.equal(await meetingCount(db, city.id), 1)
  t.equal((await getMeeting(app, city.key, created.id)).json().version, 1)
})

t.test('a key without the needed scope is 403: stakeholders:read cannot write, other scopes can do neither', async (t) => {
  const city = await makeCityWithKey(db, [...WRITER])
  const created = await createMeeting(app, city.key)
  const reader = await makeKey(db, city.id, ['stakeholders:read'])
  const unrelated = await makeKey(db, city.id, ['surveys:write', 'kpis:read'])
  for (const op of operations(created.id)) {
    for (const [who, key] of [['stakeholders:read', reader.key], ['surveys + kpis', unrelated.key]] as const) {
      if (who === 'stakeholders:read' && op.method === 'GET') continue
      const res = await inject(op, key)
      t.equal(res.statusCode, 403, `${who}: ${op.method} ${op.url}`)
      t.equal(res.json().code, 'forbidden')
    }
  }
  t.equal((await inject({ method: 'GET', url: `/v1/meetings/${created.id as string}` }, reader.key)).statusCode, 200, 'stakeholders:read reads')
  t.equal(await meetingCount(db, city.id), 1)
  t.equal((await getMeeting(app, city.key, created.id)).json().version, 1)
})

t.test('another city\'s meeting answers 404 on GET, PATCH and DELETE, exactly like a random id, and is not listed', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, ['admin'])
  const attendee = await makeStakeholder(db, theirs.id)
  const foreign = await createMeeting(app, theirs.key, meeting({ attendee_ids: [attendee.id] }))
  const probes = (id: string): Op[] => operations(id).filter((op) => op.url.endsWith(id))
  const random = probes(randomUUID())
  for (const [i, op] of probes(foreign.id).entries()) {
    const res = await inject(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await inject(random[i] as Op, mine.key)), `${op.method}: the same answer as a random id`)
  }
  t.match((await getMeeting(app, theirs.key, foreign.id)).json(), { version: 1, attendee_ids: [attendee.id] }, 'the other city\'s meeting is untouched')
  t.same((await app.inject({ method: 'GET', url: '/v1/meetings', headers: bearer(mine.key) })).json().data, [])
  const byAttendee = await app.inject({ method: 'GET', url: `/v1/meetings?stakeholder_id=${attendee.id}`, headers: bearer(mine.key) })
  t.same(byAttendee.json().data, [], 'filtering by another city\'s stakeholder finds nothing')
})

t.test('a meeting cannot list another city\'s stakeholder as an attendee, on POST or PATCH', async (t) => {
  const theirs = await makeCityWithKey(db, [...WRITER])
  const mine = await makeCityWithKey(db, [...WRITER])
  const foreign = await makeStakeholder(db, theirs.id)
  const post = await inject({ method: 'POST', url: '/v1/meetings', payload: meeting({ attendee_ids: [foreign.id] }) }, mine.key)
  t.equal(post.statusCode, 422)
  const created = await createMeeting(app, mine.key)
  const patch = await inject({ method: 'PATCH', url: `/v1/meetings/${created.id as string}`, payload: { attendee_ids: [foreign.id] }, headers: { 'if-match': '*' } }, mine.key)
  t.equal(patch.statusCode, 422)
  t.equal(await attendeeCount(db, mine.id), 0)
})
