import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { createOpenSurvey, keyWith, response, responseCount, submitResponses, survey, surveyCity } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

type Op = { method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers?: Record<string, string>, scope: string }
const operations = (id: string, responseId: string): Op[] => [
  { method: 'POST', url: '/v1/surveys', payload: survey(), scope: 'surveys:write' },
  { method: 'GET', url: '/v1/surveys', scope: 'surveys:read' },
  { method: 'GET', url: `/v1/surveys/${id}`, scope: 'surveys:read' },
  { method: 'GET', url: `/v1/surveys/${id}?language=es`, scope: 'surveys:read' },
  { method: 'PATCH', url: `/v1/surveys/${id}`, payload: { title: { en: 'x' } }, headers: { 'if-match': '*' }, scope: 'surveys:write' },
  { method: 'POST', url: `/v1/surveys/${id}/copy`, scope: 'surveys:write' },
  { method: 'DELETE', url: `/v1/surveys/${id}`, scope: 'surveys:write' },
  { method: 'POST', url: `/v1/surveys/${id}/responses`, payload: response(), scope: 'survey-responses:write' },
  { method: 'POST', url: `/v1/surveys/${id}/responses/batch`, payload: [response({ external_id: 'p-1' })], scope: 'survey-responses:write' },
  { method: 'GET', url: `/v1/surveys/${id}/responses`, scope: 'surveys:read_responses' },
  { method: 'DELETE', url: `/v1/surveys/${id}/responses/${responseId}`, scope: 'surveys:read_responses' }
]
const send = async (op: Op, key?: string) => await app.inject({ method: op.method, url: op.url, payload: op.payload as never, headers: { ...(key !== undefined ? bearer(key) : {}), ...(op.headers ?? {}) } })

t.test('every surveys operation answers 401 without a key', async (t) => {
  for (const op of operations(randomUUID(), randomUUID())) t.equal((await send(op)).statusCode, 401, `${op.method} ${op.url}`)
})

t.test('each operation needs its own scope: 403 otherwise, and admin does not imply reading individual responses', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const [responseId] = await submitResponses(app, city.key, open.id, [response()])
  const keys: Record<string, string> = {
    'surveys:read': await keyWith(db, city.id, ['surveys:read']),
    'surveys:write': await keyWith(db, city.id, ['surveys:write']),
    'survey-responses:write': await keyWith(db, city.id, ['survey-responses:write']),
    'surveys:read_responses': await keyWith(db, city.id, ['surveys:read_responses']),
    'incidents:write': await keyWith(db, city.id, ['incidents:write', 'incidents:read', 'incidents:case'])
  }
  for (const op of operations(open.id, responseId as string)) {
    for (const [scope, key] of Object.entries(keys)) {
      if (scope === op.scope) continue
      t.equal((await send(op, key)).statusCode, 403, `${scope} key: ${op.method} ${op.url}`)
    }
  }
  const admin = await keyWith(db, city.id, ['admin'])
  t.equal((await send({ method: 'GET', url: `/v1/surveys/${open.id as string}/responses`, scope: '' }, admin)).statusCode, 403, 'admin cannot read responses')
  t.equal((await send({ method: 'DELETE', url: `/v1/surveys/${open.id as string}/responses/${responseId as string}`, scope: '' }, admin)).statusCode, 403, 'nor erase one')
  t.equal((await send({ method: 'GET', url: `/v1/surveys/${open.id as string}`, scope: '' }, admin)).statusCode, 200, 'admin reads definitions')
  t.equal(await responseCount(db, city.id, open.id), 1, 'nothing written by refused requests')
})

t.test('another city\'s survey answers 404 exactly like a random id, is never listed, and is left untouched', async (t) => {
  const mine = await makeCityWithKey(db, ['admin', 'surveys:read_responses'])
  const theirs = await surveyCity(db)
  const foreign = await createOpenSurvey(app, theirs.key)
  const [foreignResponse] = await submitResponses(app, theirs.key, foreign.id, [response()])
  const probes = (id: string, rid: string): Op[] => operations(id, rid).filter((op) => op.url.includes(id))
  const random = probes(randomUUID(), randomUUID())
  for (const [i, op] of probes(foreign.id, foreignResponse as string).entries()) {
    const res = await send(op, mine.key)
    t.equal(res.statusCode, 404, `${op.method} ${op.url}`)
    t.same(comparableProblem(res), comparableProblem(await send(random[i] as Op, mine.key)), `${op.method} ${op.url}: the same answer as a random id`)
  }
  t.same((await send({ method: 'GET', url: '/v1/surveys', scope: '' }, mine.key)).json().data, [])
  const after = (await send({ method: 'GET', url: `/v1/surveys/${foreign.id as string}`, scope: '' }, theirs.key)).json()
  t.equal(after.version, foreign.version, 'untouched')
  t.equal(await responseCount(db, theirs.id, foreign.id), 1, 'its response is still there')
})

t.test('another city\'s response under one\'s own survey answers 404 and is not erased', async (t) => {
  const mine = await surveyCity(db)
  const theirs = await surveyCity(db)
  const own = await createOpenSurvey(app, mine.key)
  const foreign = await createOpenSurvey(app, theirs.key)
  const [foreignResponse] = await submitResponses(app, theirs.key, foreign.id, [response()])
  const res = await app.inject({ method: 'DELETE', url: `/v1/surveys/${own.id as string}/responses/${foreignResponse as string}`, headers: bearer(mine.key) })
  t.equal(res.statusCode, 404)
  t.equal(await responseCount(db, theirs.id, foreign.id), 1)
})
