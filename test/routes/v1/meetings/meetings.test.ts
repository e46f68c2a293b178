import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { makeCityWithKey, makeStakeholder } from '../../../factories.js'
import { attendeeCount, auditActions, createMeeting, getMeeting, meeting, meetingCount, patchMeeting, postMeeting } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const WRITER = ['stakeholders:write', 'stakeholders:read'] as const

async function cityWith (n: number): Promise<{ cityId: string, key: string, people: string[] }> {
  const city = await makeCityWithKey(db, [...WRITER])
  const people: string[] = []
  for (let i = 0; i < n; i++) people.push((await makeStakeholder(db, city.id)).id)
  return { cityId: city.id, key: city.key, people: people.sort() }
}

t.test('a meeting is recorded with who came: 201, Location, ETag, and read back with its attendee_ids', async (t) => {
  const c = await cityWith(3)
  const res = await postMeeting(app, c.key, meeting({ attendee_ids: [c.people[2], c.people[0], c.people[1]] }))
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.equal(res.headers.location, `/v1/meetings/${created.id as string}`)
  t.match(res.headers.etag, /^"[^"]+-1"$/)
  t.match(created, { ...meeting(), external_id: null, version: 1 })
  t.same(created.attendee_ids, c.people, 'the attendees, in the order of their ids')
  const read = await getMeeting(app, c.key, created.id)
  t.same(read.json(), created)
  t.equal(read.headers.etag, res.headers.etag)
  t.same((await auditActions(db, c.cityId, created.id)).map((a) => a.action), ['meeting.created'])
  t.equal(await attendeeCount(db, c.cityId), 3)
})

t.test('attendees that are no stakeholder of the city are a 422 naming each, and nothing is written', async (t) => {
  const c = await cityWith(2)
  const other = await makeCityWithKey(db, [...WRITER])
  const foreign = (await makeStakeholder(db, other.id)).id
  const res = await postMeeting(app, c.key, meeting({ attendee_ids: [c.people[0], foreign, c.people[1], randomUUID()] }))
  expectProblem(t, res, 422, 'unprocessable', 'unknown attendees')
  t.same(res.json().errors, [
    { path: '/body/attendee_ids/1', message: 'is not a stakeholder of this city' },
    { path: '/body/attendee_ids/3', message: 'is not a stakeholder of this city' }
  ])
  t.equal(await meetingCount(db, c.cityId), 0)
  t.equal(await attendeeCount(db, c.cityId), 0)
})

t.test('an unknown kind, a day before 1900, a repeated attendee or an unknown field are 400s naming each', async (t) => {
  const c = await cityWith(1)
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown kind', meeting({ kind: 'rally' }), '/body/kind'],
    ['a day before 1900', meeting({ held_on: '0001-01-01' }), '/body/held_on'],
    ['an attendee twice', meeting({ attendee_ids: [c.people[0], c.people[0]] }), '/body/attendee_ids'],
    ['an unknown field', meeting({ location: 'City hall' }), '/body/location'],
    ['an empty title', meeting({ title: '' }), '/body/title']
  ]
  for (const [what, body, path] of cases) {
    const res = await postMeeting(app, c.key, body)
    expectProblem(t, res, 400, 'validation_failed', what)
    t.same(res.json().errors.map((e: { path: string }) => e.path), [path], `${what}: names ${path}`)
  }
  t.equal(await meetingCount(db, c.cityId), 0)
})

t.test('an external_id already used in the city is a 409 naming the meeting that holds it; another city may use it', async (t) => {
  const c = await cityWith(1)
  const first = await createMeeting(app, c.key, meeting({ external_id: 'ms-2024-10' }))
  const again = await postMeeting(app, c.key, meeting({ external_id: 'ms-2024-10', attendee_ids: c.people }))
  expectProblem(t, again, 409, 'conflict', 'the external_id again')
  t.same(again.json().errors, [{ path: '/body/external_id', message: `is already used by meeting ${first.id as string}` }])
  t.equal(await meetingCount(db, c.cityId), 1)
  t.equal(await attendeeCount(db, c.cityId), 0, 'the refused meeting\'s attendees were not written')
  const other = await cityWith(0)
  t.equal((await postMeeting(app, other.key, meeting({ external_id: 'ms-2024-10' }))).statusCode, 201)
})

t.test('a POST sent again with the same Idempotency-Key replays the first answer and records the meeting once', async (t) => {
  const c = await cityWith(2)
  const headers = { 'idempotency-key': `meeting-${randomUUID()}` }
  const body = meeting({ attendee_ids: c.people })
  const first = await postMeeting(app, c.key, body, headers)
  t.equal(first.statusCode, 201)
  const replay = await postMeeting(app, c.key, body, headers)
  t.equal(replay.statusCode, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, first.body)
  t.equal(replay.headers.location, first.headers.location)
  t.equal(replay.headers.etag, first.headers.etag)
  t.equal(await meetingCount(db, c.cityId), 1)
  t.equal(await attendeeCount(db, c.cityId), 2)
})

t.test('PATCH with attendee_ids replaces the whole set; other fields merge; the audit counts who was added and removed', async (t) => {
  const c = await cityWith(4)
  const [a, b, d, e] = c.people as [string, string, string, string]
  const created = await createMeeting(app, c.key, meeting({ attendee_ids: [a, b, d] }))
  const etag = (await getMeeting(app, c.key, created.id)).headers.etag as string
  const res = await patchMeeting(app, c.key, created.id, etag, { attendee_ids: [b, e], notes: null })
  t.equal(res.statusCode, 200)
  t.same(res.json().attendee_ids, [b, e].sort())
  t.match(res.json(), { notes: null, title: created.title, topics: created.topics, version: 2 })
  t.not(res.headers.etag, etag)
  t.same((await getMeeting(app, c.key, created.id)).json().attendee_ids, [b, e].sort(), 'as stored')
  t.equal(await attendeeCount(db, c.cityId), 2)
  const update = (await auditActions(db, c.cityId, created.id)).find((x) => x.action === 'meeting.updated')
  t.match(update?.details, { attendees_added: 1, attendees_removed: 2 })
  t.same((update?.details?.fields as string[]).sort(), ['attendee_ids', 'notes'])

  const titleOnly = await patchMeeting(app, c.key, created.id, '*', { title: 'Renamed session' })
  t.same(titleOnly.json().attendee_ids, [b, e].sort(), 'a PATCH without attendee_ids keeps them')
  const nobody = await patchMeeting(app, c.key, created.id, '*', { attendee_ids: [] })
  t.same(nobody.json().attendee_ids, [], '[] records that nobody came')
  t.equal(await attendeeCount(db, c.cityId), 0)
})

t.test('PATCH naming unknown attendees is a 422 naming each and changes nothing; without If-Match 428, stale 412', async (t) => {
  const c = await cityWith(2)
  const created = await createMeeting(app, c.key, meeting({ attendee_ids: [c.people[0]] }))
  const unknown = await patchMeeting(app, c.key, created.id, '*', { attendee_ids: [c.people[1], randomUUID()] })
  expectProblem(t, unknown, 422, 'unprocessable', 'unknown attendee')
  t.same(unknown.json().errors.map((e: { path: string }) => e.path), ['/body/attendee_ids/1'])
  t.same((await getMeeting(app, c.key, created.id)).json().attendee_ids, [c.people[0]])
  expectProblem(t, await patchMeeting(app, c.key, created.id, undefined, { title: 'x' }), 428, 'precondition_required', 'no If-Match')
  const etag = (await getMeeting(app, c.key, created.id)).headers.etag as string
  t.equal((await patchMeeting(app, c.key, created.id, etag, { title: 'First' })).statusCode, 200)
  expectProblem(t, await patchMeeting(app, c.key, created.id, etag, { title: 'Second' }), 412, 'precondition_failed', 'stale If-Match')
  t.equal((await getMeeting(app, c.key, created.id)).json().title, 'First')
})

t.test('the list is newest first, filters by days, kind and attendee, and pages with a cursor', async (t) => {
  const c = await cityWith(2)
  const [a, b] = c.people as [string, string]
  const sept = await createMeeting(app, c.key, meeting({ held_on: '2024-09-10', kind: 'workshop', attendee_ids: [a] }))
  const oct = await createMeeting(app, c.key, meeting({ held_on: '2024-10-15', attendee_ids: [a, b] }))
  const nov = await createMeeting(app, c.key, meeting({ held_on: '2024-11-20', kind: 'community_dialogue', attendee_ids: [] }))
  const list = async (q: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/v1/meetings?${q}`, headers: bearer(c.key) })
    t.equal(res.statusCode, 200, q)
    return res.json().data.map((m: { id: string }) => m.id)
  }
  t.same(await list(''), [nov.id, oct.id, sept.id], 'newest first')
  t.same(await list('held_from=2024-10-01&held_to=2024-10-31'), [oct.id], 'days inclusive')
  t.same(await list('held_from=2024-10-15'), [nov.id, oct.id])
  t.same(await list('kind=workshop'), [sept.id])
  t.same(await list(`stakeholder_id=${b}`), [oct.id], 'meetings a stakeholder attended')
  t.same(await list(`stakeholder_id=${a}`), [oct.id, sept.id])
  const listed = await app.inject({ method: 'GET', url: '/v1/meetings?kind=leadership_group', headers: bearer(c.key) })
  t.same(listed.json().data[0].attendee_ids, [a, b].sort(), 'each meeting in a list carries its attendees')

  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: `/v1/meetings?limit=2${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: bearer(c.key) })
    seen.push(...res.json().data.map((m: { id: string }) => m.id))
    cursor = res.json().next_cursor
  } while (cursor !== null)
  t.same(seen, [nov.id, oct.id, sept.id])
  expectProblem(t, await app.inject({ method: 'GET', url: '/v1/meetings?held_from=0001-01-01', headers: bearer(c.key) }), 400, 'validation_failed', 'a day before 1900')
})

t.test('DELETE removes a meeting and its attendance with 204, audited; then it is 404', async (t) => {
  const c = await cityWith(2)
  const created = await createMeeting(app, c.key, meeting({ attendee_ids: c.people }))
  const res = await app.inject({ method: 'DELETE', url: `/v1/meetings/${created.id as string}`, headers: bearer(c.key) })
  t.equal(res.statusCode, 204)
  expectProblem(t, await getMeeting(app, c.key, created.id), 404, 'not_found', 'read after delete')
  t.equal(await attendeeCount(db, c.cityId), 0, 'the attendance went with it')
  t.same((await auditActions(db, c.cityId, created.id)).map((a) => a.action), ['meeting.created', 'meeting.deleted'])
})
