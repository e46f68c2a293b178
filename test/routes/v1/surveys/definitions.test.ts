import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { auditActions, createOpenSurvey, createSurvey, getSurvey, patchSurvey, postSurvey, survey, surveyCity } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

const paths = (res: { json: () => any }): string[] => (res.json().errors ?? []).map((e: { path: string }) => e.path).sort()

t.test('a survey starts as a draft: 201 with Location and ETag, read back as sent, with defaults, and audited', async (t) => {
  const city = await surveyCity(db)
  const sent = survey()
  const res = await postSurvey(app, city.key, sent)
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.equal(res.headers.location, `/v1/surveys/${created.id as string}`)
  t.match(res.headers.etag, /^"[^"]+-1"$/)
  t.match(created, { title: sent.title, description: sent.description, languages: ['en', 'es'], default_language: 'en', status: 'draft', anonymous: true, accepting_responses: false, version: 1, copied_from: null })
  t.same(created.questions[1], { ...sent.questions[1], required: false, breakdown: false }, 'required and breakdown default to false')
  t.same(created.questions[0], sent.questions[0])
  t.same((await getSurvey(app, city.key, created.id)).json(), created)
  t.same((await auditActions(db, city.id, created.id)).map((a) => a.action), ['survey.created'])
})

t.test('a missing translation is a 422 listing every gap, and a translation into an undeclared language too; nothing is stored', async (t) => {
  const city = await surveyCity(db)
  const sent = survey()
  sent.title = { en: 'Living together' }
  sent.questions[0].options[2].label = { en: 'South End', es: '  ' }
  sent.questions[3].label = { en: 'I trust the police', fr: 'J\'ai confiance' }
  sent.questions[6].help = { es: 'Opcional' }
  const res = await postSurvey(app, city.key, sent)
  expectProblem(t, res, 422, 'unprocessable', 'incomplete translations')
  t.same(paths(res), [
    '/body/questions/0/options/2/label/es', '/body/questions/3/label/es', '/body/questions/3/label/fr', '/body/questions/6/help/en', '/body/title/es'
  ].sort())
  t.same((await app.inject({ method: 'GET', url: '/v1/surveys', headers: bearer(city.key) })).json().data, [], 'nothing stored')
  const fallback = await postSurvey(app, city.key, survey({ default_language: 'fr' }))
  expectProblem(t, fallback, 422, 'unprocessable', 'default language not offered')
  t.same(paths(fallback), ['/body/default_language'])
})

t.test('every save of a draft checks the translations again: removing one with a merge patch is a 422 and changes nothing', async (t) => {
  const city = await surveyCity(db)
  const created = await createSurvey(app, city.key)
  const res = await patchSurvey(app, city.key, created.id, created.etag, { title: { es: null }, description: { en: null } })
  expectProblem(t, res, 422, 'unprocessable', 'translation removed')
  t.same(paths(res), ['/body/description/en', '/body/title/es'])
  t.equal((await getSurvey(app, city.key, created.id)).json().version, 1, 'nothing changed')
  const fixed = await patchSurvey(app, city.key, created.id, created.etag, { title: { es: null }, languages: ['en'], description: null, questions: survey().questions.map((q: any) => stripSpanish(q)) })
  t.equal(fixed.statusCode, 200, 'a draft may drop a language, with its translations')
  t.same(fixed.json().title, { en: 'Living together in Stamford' })
  t.equal(fixed.json().description, null)
})

function stripSpanish (q: any): any {
  const only = (text: Record<string, string>): Record<string, string> => ({ en: text.en as string })
  return { ...q, label: only(q.label), ...(q.help !== undefined ? { help: only(q.help) } : {}), ...(q.options !== undefined ? { options: q.options.map((o: any) => ({ ...o, label: only(o.label) })) } : {}) }
}

t.test('the rules of questions: unique codes, options where the type needs them, bounds only for numbers, breakdown only by category', async (t) => {
  const city = await surveyCity(db)
  const label = { en: 'Q', es: 'P' }
  const res = await postSurvey(app, city.key, survey({
    questions: [
      { code: 'age', type: 'single_choice', label, options: [{ code: 'a', label }] },
      { code: 'age', type: 'rating_0_10', label, options: [{ code: 'x', label }, { code: 'y', label }] },
      { code: 'kids', type: 'number', label, min: 10, max: 1 },
      { code: 'comment', type: 'text', label, breakdown: true, min: 0 },
      { code: 'agree', type: 'likert_5', label, options: [{ code: 'a', label }] },
      { code: 'pick', type: 'multiple_choice', label, options: [{ code: 'a', label }, { code: 'a', label }] }
    ]
  }))
  expectProblem(t, res, 422, 'unprocessable', 'bad questions')
  t.same(paths(res), [
    '/body/questions/0/options', '/body/questions/1/code', '/body/questions/1/options', '/body/questions/2/max', '/body/questions/3/breakdown',
    '/body/questions/3/min', '/body/questions/4/options', '/body/questions/5/options/1/code'
  ].sort())
  const shape = await postSurvey(app, city.key, survey({ questions: [{ code: 'Bad Code', type: 'essay', label }] }))
  expectProblem(t, shape, 400, 'validation_failed', 'schema')
})

t.test('status moves draft → open → closed → archived, one step at a time, under If-Match; other moves are 409 and change nothing', async (t) => {
  const city = await surveyCity(db)
  const created = await createSurvey(app, city.key)
  const skip = await patchSurvey(app, city.key, created.id, created.etag, { status: 'closed' })
  expectProblem(t, skip, 409, 'conflict', 'draft → closed')
  expectProblem(t, await patchSurvey(app, city.key, created.id, undefined, { status: 'open' }), 428, 'precondition_required', 'no If-Match')
  const opened = await patchSurvey(app, city.key, created.id, created.etag, { status: 'open' })
  t.equal(opened.statusCode, 200)
  t.match(opened.json(), { status: 'open', accepting_responses: true, version: 2 })
  expectProblem(t, await patchSurvey(app, city.key, created.id, created.etag, { status: 'closed' }), 412, 'precondition_failed', 'stale ETag')
  const back = await patchSurvey(app, city.key, created.id, opened.headers.etag as string, { status: 'draft' })
  expectProblem(t, back, 409, 'conflict', 'open → draft')
  const closed = await patchSurvey(app, city.key, created.id, opened.headers.etag as string, { status: 'closed' })
  t.match(closed.json(), { status: 'closed', accepting_responses: false })
  const archived = await patchSurvey(app, city.key, created.id, closed.headers.etag as string, { status: 'archived' })
  t.equal(archived.json().status, 'archived')
  expectProblem(t, await patchSurvey(app, city.key, created.id, archived.headers.etag as string, { status: 'open' }), 409, 'conflict', 'archived is final')
  const audit = await auditActions(db, city.id, created.id)
  t.same(audit.map((a) => a.action), ['survey.created', 'survey.status_changed', 'survey.status_changed', 'survey.status_changed'])
  t.match(audit[1]?.details, { from: 'draft', to: 'open', fields: ['status'] })
})

t.test('opening checks the definition again: a survey without questions does not open', async (t) => {
  const city = await surveyCity(db)
  const created = await createSurvey(app, city.key, survey({ questions: [] }))
  const res = await patchSurvey(app, city.key, created.id, created.etag, { status: 'open' })
  expectProblem(t, res, 422, 'unprocessable', 'no questions')
  t.same(paths(res), ['/body/questions'])
  t.equal((await getSurvey(app, city.key, created.id)).json().status, 'draft')
})

t.test('once open, questions, options, codes, languages and anonymity are frozen (409); labels may be corrected, not removed', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const questions = (): any[] => JSON.parse(JSON.stringify(open.questions))
  const refused: Array<[string, Record<string, unknown>, string]> = []
  const retyped = questions(); retyped[4].type = 'likert_5'
  refused.push(['a changed type', { questions: retyped }, '/body/questions/4'])
  const added = questions(); added.push({ code: 'extra', type: 'yes_no', label: { en: 'Extra?', es: '¿Extra?' } })
  refused.push(['an added question', { questions: added }, '/body/questions'])
  const fewer = questions(); fewer[0].options.pop()
  refused.push(['a removed option', { questions: fewer }, '/body/questions/0'])
  const recoded = questions(); recoded[1].options[0].code = 'graffiti_2'
  refused.push(['a changed option code', { questions: recoded }, '/body/questions/1'])
  const required = questions(); required[1].required = true
  refused.push(['a question made required', { questions: required }, '/body/questions/1'])
  refused.push(['anonymity', { anonymous: false }, '/body/anonymous'])
  for (const [what, patch, path] of refused) {
    const res = await patchSurvey(app, city.key, open.id, open.etag, patch)
    expectProblem(t, res, 409, 'conflict', what)
    t.ok(paths(res).includes(path), `${what}: names ${path}`)
  }
  const languages = await patchSurvey(app, city.key, open.id, open.etag, { languages: ['en', 'es', 'fr'] })
  t.ok([409, 422].includes(languages.statusCode), 'a language cannot be added to an open survey')
  const removed = await patchSurvey(app, city.key, open.id, open.etag, { title: { es: null } })
  expectProblem(t, removed, 422, 'unprocessable', 'a removed translation')
  const corrected = questions(); corrected[2].label.es = '¿Se siente segura o seguro?'
  const fixed = await patchSurvey(app, city.key, open.id, open.etag, { questions: corrected, title: { es: 'Convivir en Stamford, 2024' } })
  t.equal(fixed.statusCode, 200, 'labels may be corrected')
  t.equal(fixed.json().questions[2].label.es, '¿Se siente segura o seguro?')
  t.equal(fixed.json().title.es, 'Convivir en Stamford, 2024')
  t.equal(fixed.json().status, 'open')
})

t.test('?language= answers every label as a plain string in that language, falling back to the default language', async (t) => {
  const city = await surveyCity(db)
  const created = await createSurvey(app, city.key)
  const es = await getSurvey(app, city.key, created.id, '?language=es')
  t.equal(es.statusCode, 200)
  const form = es.json()
  t.equal(form.language, 'es')
  t.equal(form.title, 'Convivir en Stamford')
  t.equal(form.description, 'Cuéntenos sobre el odio en su barrio.')
  t.same(form.questions[0].options.map((o: { label: string }) => o.label), ['Centro', 'Lado oeste', 'Extremo sur'])
  t.equal(form.questions[6].help, 'Opcional')
  t.equal(form.questions[5].min, 0)
  t.equal(es.headers.etag, created.etag)
  const fr = (await getSurvey(app, city.key, created.id, '?language=fr')).json()
  t.equal(fr.language, 'en', 'a language the survey is not offered in falls back to the default')
  t.equal(fr.questions[2].label, 'Do you feel safe?')
  expectProblem(t, await getSurvey(app, city.key, created.id, '?language=not a tag'), 400, 'validation_failed', 'bad tag')
})

t.test('the list pages with a cursor, newest first, and filters by status; a tampered cursor is a 400', async (t) => {
  const city = await surveyCity(db)
  const first = await createSurvey(app, city.key)
  const second = await createSurvey(app, city.key)
  const third = await createOpenSurvey(app, city.key)
  const page1 = await app.inject({ method: 'GET', url: '/v1/surveys?limit=2', headers: bearer(city.key) })
  t.same(page1.json().data.map((s: { id: string }) => s.id), [third.id, second.id])
  const cursor = page1.json().next_cursor as string
  t.ok(cursor)
  const page2 = await app.inject({ method: 'GET', url: `/v1/surveys?limit=2&cursor=${encodeURIComponent(cursor)}`, headers: bearer(city.key) })
  t.same(page2.json().data.map((s: { id: string }) => s.id), [first.id])
  t.equal(page2.json().next_cursor, null)
  const open = await app.inject({ method: 'GET', url: '/v1/surveys?status=open', headers: bearer(city.key) })
  t.same(open.json().data.map((s: { id: string }) => s.id), [third.id])
  const tampered = await app.inject({ method: 'GET', url: `/v1/surveys?cursor=${encodeURIComponent(`x${cursor}`)}`, headers: bearer(city.key) })
  expectProblem(t, tampered, 400, 'invalid_cursor', 'tampered cursor')
})

t.test('a copy starts a new draft with the same texts and questions, no period and no external id, naming its source', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key, survey({ external_id: 'nva-2024', opens_at: '2024-10-01T00:00:00Z', closes_at: '2099-11-30T00:00:00Z' }))
  const res = await app.inject({ method: 'POST', url: `/v1/surveys/${open.id as string}/copy`, headers: bearer(city.key) })
  t.equal(res.statusCode, 201)
  const copy = res.json()
  t.not(copy.id, open.id)
  t.match(copy, { status: 'draft', copied_from: open.id, external_id: null, opens_at: null, closes_at: null, title: open.title, questions: open.questions, version: 1 })
  t.equal(res.headers.location, `/v1/surveys/${copy.id as string}`)
  const changed = await patchSurvey(app, city.key, copy.id, res.headers.etag as string, { questions: open.questions.slice(0, 2) })
  t.equal(changed.statusCode, 200, 'the copy is a draft: its questions can change')
  t.equal((await getSurvey(app, city.key, open.id)).json().questions.length, 7, 'the source is untouched')
  const del = await app.inject({ method: 'DELETE', url: `/v1/surveys/${open.id as string}`, headers: bearer(city.key) })
  expectProblem(t, del, 409, 'conflict', 'a survey with a copy')
})

t.test('a survey without responses is deleted (204, audited); an external id is unique in the city', async (t) => {
  const city = await surveyCity(db)
  const created = await createSurvey(app, city.key, survey({ external_id: 'nva-1' }))
  expectProblem(t, await postSurvey(app, city.key, survey({ external_id: 'nva-1' })), 409, 'conflict', 'duplicate external id')
  const del = await app.inject({ method: 'DELETE', url: `/v1/surveys/${created.id as string}`, headers: bearer(city.key) })
  t.equal(del.statusCode, 204)
  expectProblem(t, await getSurvey(app, city.key, created.id), 404, 'not_found', 'gone')
  t.same((await auditActions(db, city.id, created.id)).map((a) => a.action), ['survey.created', 'survey.deleted'])
})

t.test('a period whose end is not after its start is a 422', async (t) => {
  const city = await surveyCity(db)
  const res = await postSurvey(app, city.key, survey({ opens_at: '2024-11-01T00:00:00Z', closes_at: '2024-10-01T00:00:00Z' }))
  expectProblem(t, res, 422, 'unprocessable', 'period')
  t.same(paths(res), ['/body/closes_at'])
})
