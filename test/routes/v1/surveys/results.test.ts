import t from 'tap'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { build, bearer } from '../../../helper.js'
import { makeCityWithKey } from '../../../factories.js'
import { auditSuppression, crossTable, type Level, type SuppressionResult } from '../../../../src/lib/suppression.js'
import { createOpenSurvey, keyWith, postResponseBatch, survey, surveyCity } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

async function results (key: string, id: string, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/surveys/${id}/results${query}`, headers: bearer(key) })
}

async function setThreshold (cityId: string, threshold: number): Promise<void> {
  await db.execute(sql`UPDATE cities SET small_cell_threshold = ${threshold} WHERE id = ${cityId}::uuid`)
}

/**
 * 38 paper forms: 20 from downtown, 15 from the west side, 3 from the south end. Counts, by hand:
 * - safe (yes_no, required): downtown 14 yes 6 no, west side 12 yes 3 no, south end 1 yes 2 no: 27 yes, 11 no.
 * - witnessed (multiple choice): downtown 10 × [graffiti, online], 6 × [harassment], 4 none; west side
 *   12 × [graffiti], 2 × all three, 1 none; south end 3 × [online]. Respondents 16 + 14 + 3 = 33; graffiti
 *   24, harassment 8, online 15.
 * - trust_police (likert_5): downtown 12 × 4 and 8 × 5; west side 10 × 2 and 5 × 3; south end 3 × 1:
 *   1:3, 2:10, 3:5, 4:12, 5:8; sum 126, mean 126 / 38, median 4 (the 19th and 20th answers).
 * - cohesion (rating_0_10): downtown 20 × 7, west side 15 × 8: n 35, mean 260 / 35, median 7.
 * - years (number): downtown 1 to 20, west side 15 × 10, south end 3 × 50: n 38, sum 510, median 10;
 *   downtown mean 10.5 and median 10.5, west side 10 and 10, south end 50 and 50.
 * - story (text): every form, never in results.
 */
function forms (): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  const add = (neighbourhood: string, i: number, answers: Record<string, unknown>): void => {
    out.push({ external_id: `${neighbourhood}-${i}`, language: 'es', filled_on: '2026-10-01', answers: { neighbourhood, story: `Texto secreto ${neighbourhood} ${i}`, ...answers } })
  }
  for (let i = 0; i < 20; i++) {
    add('downtown', i, {
      safe: i < 14,
      ...(i < 10 ? { witnessed: ['graffiti', 'online'] } : i < 16 ? { witnessed: ['harassment'] } : {}),
      trust_police: i < 12 ? 4 : 5,
      cohesion: 7,
      years: i + 1
    })
  }
  for (let i = 0; i < 15; i++) {
    add('west_side', i, {
      safe: i < 12,
      ...(i < 12 ? { witnessed: ['graffiti'] } : i < 14 ? { witnessed: ['graffiti', 'harassment', 'online'] } : {}),
      trust_police: i < 10 ? 2 : 3,
      cohesion: 8,
      years: 10
    })
  }
  for (let i = 0; i < 3; i++) add('south_end', i, { safe: i < 1, witnessed: ['online'], trust_police: 1, years: 50 })
  return out
}

/** A city (threshold as given) with the 38 forms entered through the batch import. */
async function surveyWithForms (threshold?: number): Promise<{ city: { id: string, key: string }, id: string }> {
  const city = await surveyCity(db)
  if (threshold !== undefined) await setThreshold(city.id, threshold)
  const open = await createOpenSurvey(app, city.key)
  const res = await postResponseBatch(app, city.key, open.id, forms())
  if (res.statusCode !== 200 || res.json().summary.created !== 38) throw new Error(`batch: ${res.statusCode} ${res.body}`)
  return { city, id: open.id as string }
}

type Option = { code: string, label: string, count: number | null, share: number | null, suppressed: boolean }
type Distribution = { n: number | null, n_suppressed: boolean, options: Option[], mean?: number | null, median?: number | null }
type Question = Distribution & { code: string, type: string, label: string, groups?: Array<Distribution & { code: string, label: string }> }

const question = (body: { questions: Question[] }, code: string): Question => {
  const found = body.questions.find((q) => q.code === code)
  if (found === undefined) throw new Error(`no question ${code}`)
  return found
}
const counts = (d: Distribution): Record<string, number | null> => Object.fromEntries(d.options.map((o) => [o.code, o.count]))

t.test('results on a hand-computed dataset (nothing suppressed at a threshold of 1)', async (t) => {
  const { city, id } = await surveyWithForms(1)
  const res = await results(city.key, id)
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.equal(body.survey_id, id)
  t.equal(body.small_cell_threshold, 1)
  t.equal(body.language, 'en')
  t.equal(body.breakdown, null)
  t.same(body.questions.map((q: Question) => q.code), ['neighbourhood', 'witnessed', 'safe', 'trust_police', 'cohesion', 'years'], 'every question but the text one, in order')

  const neighbourhood = question(body, 'neighbourhood')
  t.same(neighbourhood.options, [
    { code: 'downtown', label: 'Downtown', count: 20, share: 20 / 38, suppressed: false },
    { code: 'west_side', label: 'West Side', count: 15, share: 15 / 38, suppressed: false },
    { code: 'south_end', label: 'South End', count: 3, share: 3 / 38, suppressed: false }
  ])
  t.equal(neighbourhood.n, 38)
  t.equal(neighbourhood.n_suppressed, false)
  t.notOk('mean' in neighbourhood, 'no mean for a choice')

  const witnessed = question(body, 'witnessed')
  t.equal(witnessed.n, 33, 'multiple choice: respondents, not answers')
  t.same(counts(witnessed), { graffiti: 24, harassment: 8, online: 15 })
  t.equal(witnessed.options[0]?.share, 24 / 33)

  const safe = question(body, 'safe')
  t.same(counts(safe), { yes: 27, no: 11 })
  t.same(safe.options.map((o) => o.label), ['yes', 'no'], 'unlabelled fixed points are labelled by their code')

  const trust = question(body, 'trust_police')
  t.same(counts(trust), { 1: 3, 2: 10, 3: 5, 4: 12, 5: 8 })
  t.equal(trust.n, 38)
  t.equal(trust.mean, 126 / 38)
  t.equal(trust.median, 4)

  const cohesion = question(body, 'cohesion')
  t.same(counts(cohesion), { 0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 20, 8: 15, 9: 0, 10: 0 })
  t.equal(cohesion.n, 35)
  t.ok(Math.abs((cohesion.mean ?? 0) - 260 / 35) < 1e-9)
  t.equal(cohesion.median, 7)

  const years = question(body, 'years')
  t.same(years.options, [], 'a number has no options')
  t.equal(years.n, 38)
  t.ok(Math.abs((years.mean ?? 0) - 510 / 38) < 1e-9)
  t.equal(years.median, 10)

  const spanish = (await results(city.key, id, '?language=es')).json()
  t.equal(spanish.language, 'es')
  t.equal(question(spanish, 'neighbourhood').label, '¿Dónde vive?')
  t.same(question(spanish, 'neighbourhood').options.map((o: Option) => o.label), ['Centro', 'Lado oeste', 'Extremo sur'])
  const unknown = (await results(city.key, id, '?language=fr')).json()
  t.equal(unknown.language, 'en', 'a language the survey lacks falls back to its default')

  const cut = (await results(city.key, id, '?breakdown=neighbourhood')).json()
  const yearsBy = question(cut, 'years').groups ?? []
  t.same(yearsBy.map((g) => [g.code, g.n, g.mean, g.median]), [['downtown', 20, 10.5, 10.5], ['west_side', 15, 10, 10], ['south_end', 3, 50, 50]])
  t.same(question(cut, 'safe').groups?.map((g) => [g.code, counts(g)]), [['downtown', { yes: 14, no: 6 }], ['west_side', { yes: 12, no: 3 }], ['south_end', { yes: 1, no: 2 }]])
  t.same(question(cut, 'witnessed').groups?.map((g) => [g.n, counts(g)]), [
    [16, { graffiti: 10, harassment: 6, online: 10 }], [14, { graffiti: 14, harassment: 2, online: 2 }], [3, { graffiti: 0, harassment: 0, online: 3 }]
  ])
})

t.test('small cells are suppressed at the city\'s threshold, with their complements (the subtraction attack)', async (t) => {
  const { city, id } = await surveyWithForms()
  const body = (await results(city.key, id)).json()
  t.equal(body.small_cell_threshold, 10)

  const neighbourhood = question(body, 'neighbourhood')
  t.equal(neighbourhood.n, 38, 'n is shown')
  t.same(neighbourhood.options, [
    { code: 'downtown', label: 'Downtown', count: 20, share: 20 / 38, suppressed: false },
    // 15 is not small, but 38 − 20 − 15 would give the south end's 3 back.
    { code: 'west_side', label: 'West Side', count: null, share: null, suppressed: true },
    { code: 'south_end', label: 'South End', count: null, share: null, suppressed: true }
  ])

  const witnessed = question(body, 'witnessed')
  t.same(counts(witnessed), { graffiti: 24, harassment: null, online: null }, 'harassment 8 is small; online, the next-smallest, protects it')
  t.equal(witnessed.n, 33)

  t.same(counts(question(body, 'safe')), { yes: 27, no: 11 }, 'nothing small, nothing hidden')

  const trust = question(body, 'trust_police')
  t.same(counts(trust), { 1: null, 2: 10, 3: null, 4: 12, 5: null }, '3, 5 and 8 hidden; together 16, so no complement')
  t.equal(trust.mean, null, 'a scale with a hidden point has no mean: it would weigh the hidden points')
  t.equal(trust.median, null)

  const cohesion = question(body, 'cohesion')
  t.equal(cohesion.median, 7, 'a scale with every point shown keeps its statistics')
  t.ok(Math.abs((cohesion.mean ?? 0) - 260 / 35) < 1e-9)
  t.equal(question(body, 'years').median, 10)

  for (const q of body.questions as Question[]) {
    const hidden = q.options.filter((o) => o.suppressed)
    t.ok(hidden.length !== 1 || q.n_suppressed, `${q.code}: never a single hidden option under a shown n`)
    for (const o of hidden) t.same([o.count, o.share], [null, null], `${q.code}/${o.code}: count and share withheld`)
  }
})

/** The table a reader of one question's results overall and by neighbourhood has, and what was shown of it. */
function linkedCheck (truth: Question, shown: Question, groups: string[], additive: boolean): { table: ReturnType<typeof crossTable>, result: SuppressionResult } {
  const options = truth.options.map((o) => o.code)
  const cells = (truth.groups ?? []).flatMap((g) => g.options.map((o) => ({ levels: [g.code, o.code], count: o.count ?? 0 })))
  const margins = additive ? [] : (truth.groups ?? []).map((g) => ({ levels: [g.code, null] as Level[], count: g.n ?? 0 }))
  const table = crossTable({ dimensions: [{ name: 'breakdown', levels: groups }, { name: 'option', levels: options, additive }], cells, margins })
  const outcome = new Map<string, { key: string, count: number | null, suppressed: boolean }>()
  for (const cell of table.cells) {
    const [group, option] = JSON.parse(cell.key) as Level[]
    const distribution: Distribution | undefined = group === null ? shown : shown.groups?.find((g) => g.code === group)
    if (distribution === undefined) throw new Error(`no group ${String(group)}`)
    const status = option === null ? { count: distribution.n, suppressed: distribution.n_suppressed } : distribution.options.find((o) => o.code === option)
    outcome.set(cell.key, { key: cell.key, count: status?.count ?? null, suppressed: status?.suppressed ?? true })
  }
  return { table, result: { threshold: 10, cells: outcome, groups: new Map() } }
}

t.test('a breakdown agrees with the unbroken results and gives no suppressed cell back, across questions too', async (t) => {
  const { city, id } = await surveyWithForms()
  const unbroken = (await results(city.key, id)).json()
  const res = await results(city.key, id, '?breakdown=neighbourhood')
  t.equal(res.statusCode, 200, res.body)
  const cut = res.json()
  t.same(cut.breakdown, { code: 'neighbourhood', label: 'Where do you live?' })
  // The truth, from another city with the same forms and a threshold of 1.
  const plain = await surveyWithForms(1)
  const truth = (await results(plain.city.key, plain.id, '?breakdown=neighbourhood')).json()
  const groups = ['downtown', 'west_side', 'south_end']
  for (const q of cut.questions as Question[]) {
    const { groups: _groups, ...overall } = q
    const { groups: _none, ...alone } = question(unbroken, q.code)
    t.same(overall, alone, `${q.code}: the unbroken results are the same with a breakdown`)
    t.same(q.groups?.map((g) => g.code), groups)
    const real = question(truth, q.code)
    for (const [i, g] of (q.groups ?? []).entries()) {
      const r = real.groups?.[i]
      for (const [j, o] of g.options.entries()) {
        const value = r?.options[j]?.count ?? 0
        if (o.suppressed) continue
        t.equal(o.count, value, `${q.code}/${g.code}/${o.code}: a shown count is the true one`)
      }
      if (!g.n_suppressed) t.equal(g.n, r?.n)
    }
    if (q.code === 'years') continue
    const { table, result } = linkedCheck(real, q, groups, q.type !== 'multiple_choice')
    const audit = auditSuppression(table, result)
    t.same(audit.recoverable, [], `${q.code}: no small cell follows from the overall and the groups together`)
    t.same(audit.smallHiddenSums, [], `${q.code}: no group's hidden cells add up to a small count`)
  }
  // The south end's 3 respondents and the west side's 15 (its complement in the unbroken results) are
  // hidden in every question's groups: any shown group size, with 38 and 20, gives the 3 back.
  for (const q of cut.questions as Question[]) {
    const [downtown, west, south] = q.groups ?? []
    t.equal(south?.n, null, `${q.code}: the south end's n is hidden`)
    t.equal(west?.n, null, `${q.code}: the west side's n is hidden like its size in the breakdown's own results`)
    t.equal(downtown?.n_suppressed, false)
  }
  const years = question(cut, 'years')
  t.same(years.groups?.map((g) => [g.mean, g.median]), [[10.5, 10.5], [null, null], [null, null]], 'statistics withheld with their n')
  const safe = question(cut, 'safe')
  t.same(safe.groups?.map((g) => counts(g)), [{ yes: null, no: null }, { yes: 12, no: null }, { yes: null, no: null }],
    'downtown\'s 6 no takes its 14 yes along (its n is shown); the west side\'s 12 yes gives nothing back under a hidden n')
  const witnessed = question(cut, 'witnessed')
  t.same(counts(witnessed.groups?.[0] as Distribution), { graffiti: null, harassment: null, online: 10 },
    'downtown\'s 6 harassment takes graffiti along, not online: online\'s column needs no complement')
  t.same(counts(question(cut, 'trust_police').groups?.[2] as Distribution), { 1: null, 2: 0, 3: 0, 4: null, 5: 0 },
    'a zero is hidden when nothing else keeps downtown\'s 12 from being solved from its column')
})

t.test('free-text answers never appear in results', async (t) => {
  const { city, id } = await surveyWithForms(1)
  for (const query of ['', '?breakdown=neighbourhood', '?language=es']) {
    const res = await results(city.key, id, query)
    t.equal(res.statusCode, 200)
    t.notOk(res.body.includes('story'), `no text question (${query})`)
    t.notOk(res.body.includes('Texto secreto'), `no text answer (${query})`)
    t.notOk(res.body.includes('Anything else'), `no text label (${query})`)
  }
})

t.test('a survey with no responses has zeros everywhere, and nothing withheld but statistics', async (t) => {
  const city = await surveyCity(db)
  const open = await createOpenSurvey(app, city.key)
  const body = (await results(city.key, open.id)).json()
  for (const q of body.questions as Question[]) {
    t.equal(q.n, 0, `${q.code}: n 0`)
    t.ok(q.options.every((o) => o.count === 0 && o.share === null && !o.suppressed))
    if ('mean' in q) t.same([q.mean, q.median], [null, null])
  }
  const cut = (await results(city.key, open.id, '?breakdown=neighbourhood')).json()
  t.equal(question(cut, 'safe').groups?.length, 3)
})

t.test('bad requests are problems, and another city\'s survey answers 404', async (t) => {
  const { city, id } = await surveyWithForms()
  const notBreakdown = await results(city.key, id, '?breakdown=safe')
  t.equal(notBreakdown.statusCode, 400)
  t.equal(notBreakdown.json().code, 'validation_failed')
  t.match(notBreakdown.json().errors[0], { path: '/query/breakdown', message: /neighbourhood/ })
  t.equal((await results(city.key, id, '?breakdown=nowhere')).statusCode, 400)
  t.equal((await results(city.key, id, '?breakdown=Bad-Code')).statusCode, 400)
  t.equal((await results(city.key, id, '?extra=1')).statusCode, 400)
  t.equal((await results(city.key, 'not-a-uuid')).statusCode, 400)

  const other = await makeCityWithKey(db, ['surveys:read'])
  const foreign = await results(other.key, id)
  t.equal(foreign.statusCode, 404)
  t.equal(foreign.json().code, 'not_found')
  t.equal((await results(other.key, id, '?breakdown=neighbourhood')).statusCode, 404)
  t.equal((await results(city.key, '01900000-0000-7000-8000-000000000000')).statusCode, 404)

  const clerk = await keyWith(db, city.id, ['survey-responses:write'])
  t.equal((await results(clerk, id)).statusCode, 403, 'a key that enters forms without surveys:read cannot read results')
  const reader = await keyWith(db, city.id, ['surveys:read'])
  t.equal((await results(reader, id)).statusCode, 200, 'surveys:read is enough')
  t.equal((await app.inject({ method: 'GET', url: `/v1/surveys/${id}/results` })).statusCode, 401)
})

t.test('respondents without a breakdown answer count overall only, and a few of them are not singled out by the groups\' means', async (t) => {
  const city = await surveyCity(db)
  const definition = survey()
  definition.questions[0].required = false
  const open = await createOpenSurvey(app, city.key, definition)
  const items = [
    ...Array.from({ length: 20 }, (_, i) => ({ external_id: `d-${i}`, language: 'en', filled_on: '2026-10-01', answers: { neighbourhood: 'downtown', safe: true, years: 10 } })),
    ...Array.from({ length: 15 }, (_, i) => ({ external_id: `w-${i}`, language: 'en', filled_on: '2026-10-01', answers: { neighbourhood: 'west_side', safe: true, years: 20 } })),
    ...Array.from({ length: 3 }, (_, i) => ({ external_id: `x-${i}`, language: 'en', filled_on: '2026-10-01', answers: { safe: false, years: 90 } }))
  ]
  const batch = await postResponseBatch(app, city.key, open.id, items)
  t.equal(batch.json().summary.created, 38)
  const cut = (await results(city.key, open.id, '?breakdown=neighbourhood')).json()
  const years = question(cut, 'years')
  t.equal(years.n, 38)
  t.ok(Math.abs((years.mean ?? 0) - 770 / 38) < 1e-9, 'the overall mean counts the three without a neighbourhood')
  t.same(years.groups?.map((g) => [g.code, g.n, g.mean, g.median]), [['downtown', 20, null, 10], ['west_side', 15, null, 20], ['south_end', 0, null, null]],
    'with both groups\' means shown, 770 − 200 − 300 would give the three\'s 270 back')
  const neighbourhood = question(cut, 'neighbourhood')
  t.same([neighbourhood.n, counts(neighbourhood)], [35, { downtown: 20, west_side: 15, south_end: 0 }])
  const safe = question(cut, 'safe')
  t.same(counts(safe), { yes: null, no: null }, 'the three no are small, and take the yes along')
  t.same(safe.groups?.map((g) => counts(g)), [{ yes: 20, no: 0 }, { yes: 15, no: 0 }, { yes: 0, no: 0 }], 'the groups hold none of the three')
})
