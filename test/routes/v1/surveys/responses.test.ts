import { sql } from 'drizzle-orm'
import t from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build, expectProblem } from '../../../helper.js'
import {
  answerRows, auditActions, createOpenSurvey, createSurvey, listResponses, patchSurvey, postResponse, postResponseBatch, response, responseCount,
  submitResponses, survey, surveyCity, uniqueId
} from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

const paths = (res: { json: () => any }): string[] => (res.json().errors ?? []).map((e: { path: string }) => e.path).sort()

t.test('a response is 201 with a receipt that repeats no answer; choices, scales and numbers land in survey_answers, free text does not', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const res = await postResponse(app, city.key, open.id, response())
  t.equal(res.statusCode, 201)
  const receipt = res.json()
  t.equal(res.headers.location, `/v1/surveys/${open.id as string}/responses/${receipt.id as string}`)
  t.match(receipt, { survey_id: open.id, language: 'es', channel: 'portal', external_id: null })
  t.match(receipt.filled_on, /^\d{4}-\d{2}-\d{2}$/)
  t.notOk('answers' in receipt, 'the receipt carries no answers')
  t.notOk(res.body.includes('pintadas'), 'nor the free text')
  const rows = await answerRows(db, city.id, open.id)
  t.same(rows.map((r) => [r.question_code, r.option_code, r.value === null ? null : Number(r.value), r.position]), [
    ['cohesion', '', 7, 0],
    ['neighbourhood', 'downtown', null, 0],
    ['safe', 'no', null, 0],
    ['trust_police', '', 2, 0],
    ['witnessed', 'graffiti', null, 0],
    ['witnessed', 'online', null, 1],
    ['years', '', 12, 0]
  ])
  t.ok(rows.every((r) => r.response_id === receipt.id))
  t.same((await auditActions(db, city.id, receipt.id)).map((a) => a.action), ['survey_response.created'])
})

t.test('free-text answers and contact details are sealed: not in survey_answers, not readable anywhere in the tables', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key, survey({ anonymous: false }))
  const story = `Someone sprayed a slur on the mosque wall ${uniqueId('marker')}`
  const [id] = await submitResponses(app, city.key, open.id, [response({ answers: { ...response().answers, story }, contact: { name: 'Amina K.', email: 'amina@example.org' } })])
  t.notOk((await answerRows(db, city.id, open.id)).some((r) => r.question_code === 'story'), 'no row for the text question')
  const [stored] = await query<{ personal_data: Buffer | string, data_key: Buffer | string, whole: string }>(db, sql`SELECT personal_data, data_key, r::text AS whole FROM survey_responses r WHERE city_id = ${city.id} AND id = ${id}`)
  t.ok(stored?.personal_data, 'a sealed part is stored')
  const bytes = Buffer.from(stored?.personal_data as Buffer)
  t.notOk(bytes.includes(Buffer.from(story.slice(0, 20))), 'the text is not in the sealed bytes in the clear')
  t.notOk(bytes.includes(Buffer.from('amina@example.org')), 'nor the e-mail address')
  t.notOk(stored?.whole.includes('marker'), 'nor anywhere in the row as text')
  const list = (await listResponses(app, city.key, open.id)).json()
  t.equal(list.data[0].answers.story, story, 'a key with surveys:read_responses reads it back')
  t.same(list.data[0].contact, { name: 'Amina K.', email: 'amina@example.org' })
  t.equal(list.data[0].personal_data, 'held')
})

t.test('every answer problem is listed in one 422: unknown question, wrong option, out of range, missing required, wrong type, language', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const res = await postResponse(app, city.key, open.id, {
    language: 'fr',
    contact: { email: 'someone@example.org' },
    answers: {
      neighbourhood: 'uptown',
      witnessed: ['graffiti', 'arson', 'graffiti'],
      trust_police: 6,
      cohesion: 'seven',
      years: 140,
      story: 42,
      favourite_colour: 'blue'
    }
  })
  expectProblem(t, res, 422, 'unprocessable', 'bad answers')
  t.same(paths(res), [
    '/body/answers/cohesion', '/body/answers/favourite_colour', '/body/answers/neighbourhood', '/body/answers/safe', '/body/answers/story',
    '/body/answers/trust_police', '/body/answers/witnessed/1', '/body/answers/witnessed/2', '/body/answers/years', '/body/contact', '/body/language'
  ].sort())
  const messages = Object.fromEntries(res.json().errors.map((e: { path: string, message: string }) => [e.path, e.message]))
  t.match(messages['/body/answers/favourite_colour'], /not a question/)
  t.match(messages['/body/answers/neighbourhood'], /not an option/)
  t.match(messages['/body/answers/safe'], /required/)
  t.match(messages['/body/answers/years'], /between 0 and 100/)
  t.match(messages['/body/answers/cohesion'], /whole number from 0 to 10/)
  t.match(messages['/body/contact'], /anonymous/)
  t.equal(await responseCount(db, city.id, open.id), 0, 'nothing stored')
  const fractional = await postResponse(app, city.key, open.id, response({ answers: { neighbourhood: 'downtown', safe: true, cohesion: 3.5, witnessed: 'graffiti' } }))
  expectProblem(t, fractional, 422, 'unprocessable', 'a fractional rating and a string for multiple choice')
  t.same(paths(fractional), ['/body/answers/cohesion', '/body/answers/witnessed'])
  const minimal = await postResponse(app, city.key, open.id, { language: 'en', answers: { neighbourhood: 'west_side', safe: true, witnessed: [], story: '' } })
  t.equal(minimal.statusCode, 201, 'optional questions may be left out or empty')
})

t.test('responses are taken only while the survey is open and within its period: 409 otherwise', async (t) => {
  const city = await surveyCity(db)
  const draft = await createSurvey(app, city.key)
  expectProblem(t, await postResponse(app, city.key, draft.id, response()), 409, 'conflict', 'draft')
  const later = await createOpenSurvey(app, city.key, survey({ opens_at: '2099-01-01T00:00:00Z' }))
  t.equal(later.accepting_responses, false)
  expectProblem(t, await postResponse(app, city.key, later.id, response()), 409, 'conflict', 'not yet open')
  const past = await createOpenSurvey(app, city.key, survey({ opens_at: '2024-10-01T00:00:00Z', closes_at: '2024-11-30T00:00:00Z' }))
  expectProblem(t, await postResponse(app, city.key, past.id, response()), 409, 'conflict', 'its period ended')
  const open = await createOpenSurvey(app, city.key)
  const closed = await patchSurvey(app, city.key, open.id, open.etag, { status: 'closed' })
  t.equal(closed.statusCode, 200)
  expectProblem(t, await postResponse(app, city.key, open.id, response()), 409, 'conflict', 'closed')
  t.equal(await responseCount(db, city.id, open.id), 0)
})

t.test('a submission sent again with its Idempotency-Key is replayed, not stored twice; another body under the key is a 422', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const key = { 'idempotency-key': uniqueId('portal') }
  const first = await postResponse(app, city.key, open.id, response(), key)
  const again = await postResponse(app, city.key, open.id, response(), key)
  t.equal(first.statusCode, 201)
  t.equal(again.statusCode, 201)
  t.same(again.json(), first.json())
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(await responseCount(db, city.id, open.id), 1)
  t.equal((await answerRows(db, city.id, open.id)).length, 7, 'the answers are stored once')
  expectProblem(t, await postResponse(app, city.key, open.id, response({ language: 'en' }), key), 422, 'idempotency_key_reused', 'another body')
})

t.test('paper responses import in a batch while open or closed; a re-run changes nothing; other answers under a stored form id are refused', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const forms = [1, 2, 3].map((n) => response({ external_id: `paper-${n}`, filled_on: '2024-10-1' + String(n), language: n === 1 ? 'en' : 'es' }))
  const first = await postResponseBatch(app, city.key, open.id, forms)
  t.equal(first.statusCode, 200)
  t.same(first.json().summary, { created: 3, updated: 0, unchanged: 0, accepted: 0, rejected: 0 })
  const before = await answerRows(db, city.id, open.id)
  t.equal(before.length, 21)
  const closed = await patchSurvey(app, city.key, open.id, open.etag, { status: 'closed' })
  t.equal(closed.statusCode, 200)
  const rerun = await postResponseBatch(app, city.key, open.id, forms)
  t.same(rerun.json().summary, { created: 0, updated: 0, unchanged: 3, accepted: 0, rejected: 0 }, 'accepted after closing, and unchanged')
  t.same(rerun.json().items.map((i: { id: string }) => i.id), first.json().items.map((i: { id: string }) => i.id))
  t.same(await answerRows(db, city.id, open.id), before, 'the answers are as they were')
  const changed = await postResponseBatch(app, city.key, open.id, [{ ...forms[0], answers: { ...forms[0]?.answers, cohesion: 1 } }, response({ external_id: 'paper-4', filled_on: '2024-10-20' })])
  t.same(changed.json().summary, { created: 1, updated: 0, unchanged: 0, accepted: 0, rejected: 1 })
  t.match(changed.json().items[0].problems[0], { path: '/body/0', message: /already recorded/ })
  t.equal(await responseCount(db, city.id, open.id), 4)
  // The responses of one batch share a millisecond, so their order in the list is not the batch's.
  const list = (await listResponses(app, city.key, open.id)).json().data.sort((a: { external_id: string }, b: { external_id: string }) => a.external_id.localeCompare(b.external_id))
  t.same(list.map((r: { external_id: string }) => r.external_id), ['paper-1', 'paper-2', 'paper-3', 'paper-4'])
  t.same(list.map((r: { channel: string }) => r.channel), ['paper', 'paper', 'paper', 'paper'])
  t.same(list.map((r: { filled_on: string }) => r.filled_on), ['2024-10-11', '2024-10-12', '2024-10-13', '2024-10-20'])
  t.equal(list[0].answers.cohesion, 7, 'the stored answer stands')
})

t.test('a batch answers each item: bad items are rejected with their paths, dry_run writes nothing, atomic refuses the whole batch', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const items = [
    response({ external_id: 'a' }),
    response({ external_id: 'b', answers: { ...response().answers, neighbourhood: 'uptown' } }),
    response({ language: 'es' }),
    response({ external_id: 'd', filled_on: '2999-01-01' }),
    response({ external_id: 'a' })
  ]
  const dry = await postResponseBatch(app, city.key, open.id, items, '?dry_run=true')
  t.same(dry.json().summary, { created: 1, updated: 0, unchanged: 0, accepted: 0, rejected: 4 })
  t.same(dry.json().items.map((i: { problems: Array<{ path: string }> }) => i.problems.map((p) => p.path)), [
    [], ['/body/1/answers/neighbourhood'], ['/body/2/external_id'], ['/body/3/filled_on'], ['/body/4/external_id']
  ])
  t.equal(await responseCount(db, city.id, open.id), 0, 'dry run wrote nothing')
  const atomic = await postResponseBatch(app, city.key, open.id, items, '?atomic=true')
  expectProblem(t, atomic, 422, 'unprocessable', 'atomic')
  t.equal(await responseCount(db, city.id, open.id), 0, 'atomic wrote nothing')
  const written = await postResponseBatch(app, city.key, open.id, items)
  t.same(written.json().summary, { created: 1, updated: 0, unchanged: 0, accepted: 0, rejected: 4 })
  t.equal(await responseCount(db, city.id, open.id), 1)
  const draft = await createSurvey(app, city.key)
  expectProblem(t, await postResponseBatch(app, city.key, draft.id, [response({ external_id: 'x' })]), 409, 'conflict', 'a draft takes no paper responses')
})

t.test('responses are listed with a cursor, free text and contact included, and every response shown is audited by id', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key, survey({ anonymous: false }))
  const ids = await submitResponses(app, city.key, open.id, [
    response({ contact: { phone: '+1 203 555 0101' } }),
    response({ language: 'en', answers: { neighbourhood: 'south_end', safe: true } }),
    response({ answers: { ...response().answers, story: 'Second story' } })
  ])
  const page1 = await listResponses(app, city.key, open.id, '?limit=2')
  t.equal(page1.statusCode, 200)
  t.same(page1.json().data.map((r: { id: string }) => r.id), ids.slice(0, 2))
  t.same(page1.json().data[0].answers, response().answers)
  t.same(page1.json().data[0].contact, { phone: '+1 203 555 0101' })
  t.same(page1.json().data[1].answers, { neighbourhood: 'south_end', safe: true })
  t.equal(page1.json().data[1].personal_data, 'none')
  const page2 = await listResponses(app, city.key, open.id, `?limit=2&cursor=${encodeURIComponent(page1.json().next_cursor as string)}`)
  t.same(page2.json().data.map((r: { id: string }) => r.id), ids.slice(2))
  t.equal(page2.json().next_cursor, null)
  for (const id of ids) t.ok((await auditActions(db, city.id, id)).some((a) => a.action === 'survey_response.read'), `the read of ${id} is audited`)
  const other = await createOpenSurvey(app, city.key)
  const foreignCursor = await listResponses(app, city.key, other.id, `?cursor=${encodeURIComponent(page1.json().next_cursor as string)}`)
  expectProblem(t, foreignCursor, 400, 'invalid_cursor', 'a cursor of another survey\'s list')
})

t.test('a response is erased on request: the row, its sealed part and its answers go, audited; a survey with responses is not deleted', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const [id, kept] = await submitResponses(app, city.key, open.id, [response(), response()])
  expectProblem(t, await app.inject({ method: 'DELETE', url: `/v1/surveys/${open.id as string}`, headers: bearer(city.key) }), 409, 'conflict', 'a survey with responses')
  const del = await app.inject({ method: 'DELETE', url: `/v1/surveys/${open.id as string}/responses/${id as string}`, headers: bearer(city.key) })
  t.equal(del.statusCode, 204)
  t.equal(await responseCount(db, city.id, open.id), 1)
  const rows = await answerRows(db, city.id, open.id)
  t.ok(rows.length > 0 && rows.every((r) => r.response_id === kept), 'only the kept response\'s answers remain')
  t.same((await auditActions(db, city.id, id as string)).map((a) => a.action), ['survey_response.created', 'survey_response.deleted'])
  const again = await app.inject({ method: 'DELETE', url: `/v1/surveys/${open.id as string}/responses/${id as string}`, headers: bearer(city.key) })
  expectProblem(t, again, 404, 'not_found', 'already erased')
})

t.test('a portal response with an external_id sent again is unchanged (200); other answers under it are a 422, and nothing changes', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const first = await postResponse(app, city.key, open.id, response({ external_id: 'portal-77' }))
  t.equal(first.statusCode, 201)
  const again = await postResponse(app, city.key, open.id, response({ external_id: 'portal-77' }))
  t.equal(again.statusCode, 200)
  t.equal(again.json().id, first.json().id)
  const other = await postResponse(app, city.key, open.id, response({ external_id: 'portal-77', answers: { ...response().answers, cohesion: 0 } }))
  expectProblem(t, other, 422, 'unprocessable', 'other answers under a stored id')
  t.match(other.json().errors, [{ path: '/body', message: /already recorded/ }])
  t.equal(await responseCount(db, city.id, open.id), 1)
  t.ok((await answerRows(db, city.id, open.id)).some((r) => r.question_code === 'cohesion' && Number(r.value) === 7), 'the stored answer stands')
})
