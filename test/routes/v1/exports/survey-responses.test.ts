import { parse } from 'csv-parse/sync'
import t from 'tap'
import { bearer, build, expectProblem } from '../../../helper.js'
import { auditActions, createOpenSurvey, keyWith, response, submitResponses, survey, surveyCity } from '../surveys/fixtures.js'

const { app, database } = await build(t)
const db = database.db

const exportOf = async (key: string, id: string, search = '', headers: Record<string, string> = {}) =>
  await app.inject({ method: 'GET', url: `/v1/surveys/${id}/responses/export${search}`, headers: { ...bearer(key), ...headers } })

t.test('one column per question, headed and answered in the chosen language, free text unsealed, in the order responses came', async (t) => {
  const city = await surveyCity(db)
  const opened = await createOpenSurvey(app, city.key)
  await submitResponses(app, city.key, opened.id, [
    response(),
    response({ language: 'en', answers: { neighbourhood: 'west_side', safe: true, story: '=HYPERLINK("http://example.org")' } })
  ])
  const english = await exportOf(city.key, opened.id, '?format=csv&language=en')
  t.equal(english.statusCode, 200)
  t.match(english.headers['content-disposition'], /^attachment; filename="city-[a-z0-9]+_survey_[0-9a-f]{8}_responses_en\.csv"$/)
  const rows = parse(english.body, { columns: true }) as Array<Record<string, string>>
  t.same(Object.keys(rows[0] ?? {}), ['response_id', 'filled_on', 'language', 'channel', 'Where do you live?', 'What have you witnessed?',
    'Do you feel safe?', 'I trust the police', 'How connected is your community?', 'Years in the city', 'Anything else?'])
  t.equal(rows.length, 2)
  t.equal(rows[0]?.['Where do you live?'], 'Downtown')
  t.equal(rows[0]?.['What have you witnessed?'], 'Hateful graffiti;Online hate')
  t.equal(rows[0]?.['Do you feel safe?'], 'false')
  t.equal(rows[0]?.['I trust the police'], '2')
  t.equal(rows[0]?.['Anything else?'], 'Vi pintadas en la biblioteca.', 'the free-text answer is unsealed')
  t.equal(rows[1]?.['Where do you live?'], 'West Side')
  t.equal(rows[1]?.['What have you witnessed?'], '', 'an unanswered question is an empty cell')
  t.equal(rows[1]?.['Anything else?'], '\'=HYPERLINK("http://example.org")', 'a resident\'s formula is neutralised')

  const spanish = parse((await exportOf(city.key, opened.id, '?language=es', { accept: 'text/csv' })).body, { columns: true }) as Array<Record<string, string>>
  t.ok('¿Dónde vive?' in (spanish[0] ?? {}), 'Spanish headers')
  t.equal(spanish[0]?.['¿Dónde vive?'], 'Centro')
  t.equal(spanish[0]?.['¿Qué ha presenciado?'], 'Pintadas de odio;Odio en línea')

  const fallback = parse((await exportOf(city.key, opened.id, '?language=fr')).body, { columns: true }) as Array<Record<string, string>>
  t.ok('Where do you live?' in (fallback[0] ?? {}), 'a language the survey does not offer falls back to its default')

  const ndjson = (await exportOf(city.key, opened.id, '?format=ndjson&language=en')).body.trim().split('\n').map((l) => JSON.parse(l))
  t.same(ndjson[0]?.['What have you witnessed?'], ['Hateful graffiti', 'Online hate'])
  t.equal(ndjson[0]?.['Do you feel safe?'], false)
  t.equal(ndjson[0]?.['Years in the city'], 12)
  t.equal(ndjson[1]?.['Anything else?'], '=HYPERLINK("http://example.org")')
})

t.test('every export is audited; the survey of another city answers 404; the scope is surveys:read_responses, which admin does not imply', async (t) => {
  const city = await surveyCity(db)
  const opened = await createOpenSurvey(app, city.key, survey())
  await submitResponses(app, city.key, opened.id, [response()])
  await exportOf(city.key, opened.id, '?format=ndjson&language=es')
  const actions = (await auditActions(db, city.id, opened.id)).filter((a) => a.action === 'survey_responses.exported')
  t.same(actions.map((a) => a.details), [{ format: 'ndjson', language: 'es' }])

  const other = await surveyCity(db)
  expectProblem(t, await exportOf(other.key, opened.id), 404, 'not_found', 'another city\'s survey')
  const admin = await keyWith(db, city.id, ['admin'])
  expectProblem(t, await exportOf(admin, opened.id), 403, 'forbidden', 'admin')
  const reader = await keyWith(db, city.id, ['surveys:read', 'exports:read', 'exports:read_records'])
  expectProblem(t, await exportOf(reader, opened.id), 403, 'forbidden', 'surveys:read and exports')
  expectProblem(t, await app.inject({ method: 'GET', url: `/v1/surveys/${opened.id}/responses/export` }), 401, 'unauthorized', 'no key')
})

t.test('a survey with more responses than a page exports every one once', async (t) => {
  const city = await surveyCity(db)
  const opened = await createOpenSurvey(app, city.key)
  const forms = Array.from({ length: 1203 }, (_, i) => ({ external_id: `form-${i}`, filled_on: '2024-05-01', ...response({ answers: { neighbourhood: 'downtown', safe: true, years: i % 100 } }) }))
  for (let i = 0; i < forms.length; i += 1000) {
    const res = await app.inject({ method: 'POST', url: `/v1/surveys/${opened.id}/responses/batch`, headers: bearer(city.key), payload: forms.slice(i, i + 1000) })
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
  }
  const rows = parse((await exportOf(city.key, opened.id)).body, { columns: true }) as Array<Record<string, string>>
  t.equal(rows.length, 1203)
  t.equal(new Set(rows.map((r) => r.response_id)).size, 1203, 'each response once')
  t.ok(rows.every((r) => r.channel === 'paper'))
})
