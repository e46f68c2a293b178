import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { SurveyQuestion, Translated } from '../../../db/schema/index.js'
import { invalidField } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, problemResponses, ref } from '../../../lib/schemas.js'
import {
  isSmallCount, shareOf, statisticFor, suppressDistribution, suppressLinked, type CellStatus, type DistributionOutcome, type ForcedState
} from '../../../lib/suppression.js'
import { callerOf } from '../../../plugins/auth.js'
import { loadSurvey, type SurveyRow } from './repo.js'
import { resultFigures, SCALE_TYPES, VALUE_TYPES, type CountRow, type StatisticRow } from './results-repo.js'
import { ResultsQuery, SurveyResultsSchema, type GroupResult, type OptionResult, type QuestionResult, type SurveyResults } from './results-schema.js'
import { localized } from './rules.js'

const DESCRIPTION = `Per question (text questions never appear): \`n\` respondents, each option's \`count\` and \`share\` (of \`n\`), and for
likert_5, rating_0_10 and number questions the \`mean\` and \`median\`. With \`breakdown\` (the code of a question flagged \`breakdown\`),
every question is also cut by the respondent's answer to it, in \`groups\`.

**Small cells are suppressed** (\`src/lib/suppression.ts\`): a count from 1 to the city's \`small_cell_threshold\` − 1 is answered as
\`count: null, suppressed: true\`, and so are the counts that would give it back by subtraction from \`n\`, from another option, from
another group or from the unbroken results (complementary suppression, checked across all of them together). Zeros are shown. A share is
withheld with its count; a mean or median is withheld when fewer than the threshold answered, when \`n\` is withheld, and for a scale
when any of its points is withheld (the mean would otherwise give the hidden points back). Respondents who did not answer the breakdown
question count in the unbroken results only. The unbroken results are the same with or without a breakdown, and the results by two
different breakdowns hide the same unbroken cells; what two breakdowns reveal together is not checked.`

const SCALE_POINTS: Partial<Record<SurveyQuestion['type'], string[]>> = {
  likert_5: ['1', '2', '3', '4', '5'],
  rating_0_10: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
  yes_no: ['yes', 'no'],
  number: []
}

/** A question's options as results list them: its own, or the fixed points of its type (labelled when the definition labels them). */
function optionsOf (question: SurveyQuestion): Array<{ code: string, label: Translated | undefined }> {
  const defined = new Map((question.options ?? []).map((option) => [option.code, option.label]))
  const fixed = SCALE_POINTS[question.type]
  if (fixed === undefined) return (question.options ?? []).map((option) => ({ code: option.code, label: option.label }))
  return fixed.map((code) => ({ code, label: defined.get(code) }))
}

/** The counts of one question in one group (null: the respondents without a breakdown answer). */
interface Tally { respondents: number, options: Map<string, number> }

function tallies (rows: readonly CountRow[]): Map<string, Map<string | null, Tally>> {
  const byQuestion = new Map<string, Map<string | null, Tally>>()
  for (const row of rows) {
    let groups = byQuestion.get(row.question)
    if (groups === undefined) byQuestion.set(row.question, groups = new Map())
    let tally = groups.get(row.group)
    if (tally === undefined) groups.set(row.group, tally = { respondents: 0, options: new Map() })
    tally.respondents += row.respondents
    tally.options.set(row.option, (tally.options.get(row.option) ?? 0) + row.answers)
  }
  return byQuestion
}

const resultsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(SurveyResultsSchema)

  app.get('/:id/results', {
    schema: {
      operationId: 'getSurveyResults',
      tags: ['surveys'],
      summary: 'Read a survey\'s results, optionally cut by a demographic question, with small cells suppressed',
      description: DESCRIPTION,
      security: [{ bearer: ['surveys:read'] }],
      params: IdParams,
      querystring: ResultsQuery,
      response: { 200: ref(SurveyResultsSchema), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const { cityId, city } = callerOf(request)
    const survey = await loadSurvey(app.db, cityId, request.params.id)
    const breakdown = breakdownOf(survey, request.query.breakdown)
    const questions = survey.questions.filter((q) => q.type !== 'text')
    const figures = await resultFigures(app.db, cityId, { surveyId: survey.id, questions, breakdown: breakdown?.code })
    const language = request.query.language !== undefined && survey.languages.includes(request.query.language) ? request.query.language : survey.defaultLanguage
    return present(survey, questions, breakdown, figures, { language, threshold: city.smallCellThreshold })
  })
}

/** The breakdown question a request names, or a 400 naming what it may be. */
function breakdownOf (survey: SurveyRow, code: string | undefined): SurveyQuestion | undefined {
  if (code === undefined) return undefined
  const question = survey.questions.find((q) => q.code === code)
  if (question === undefined || !question.breakdown) {
    const allowed = survey.questions.filter((q) => q.breakdown).map((q) => q.code)
    throw invalidField('/query/breakdown', allowed.length === 0
      ? 'names no breakdown question: this survey has none'
      : `must be the code of a breakdown question of this survey (${allowed.join(', ')})`)
  }
  return question
}

interface Context { language: string, threshold: number }

function present (survey: SurveyRow, questions: readonly SurveyQuestion[], breakdown: SurveyQuestion | undefined,
  figures: { counts: CountRow[], statistics: StatisticRow[] }, context: Context): SurveyResults {
  const label = (text: Translated | undefined, code: string): string => text === undefined ? code : localized(text, context.language, survey.defaultLanguage)
  const counted = tallies(figures.counts)
  const statistics = new Map<string, StatisticRow>()
  for (const row of figures.statistics) statistics.set(JSON.stringify([row.question, row.overall ? '*' : row.group]), row)
  const groups = breakdown === undefined ? [] : optionsOf(breakdown)
  // The size of each group as the breakdown question's own unbroken results show it: every question's group
  // n repeats it (exactly, for a required question), so each is shown or hidden the same way.
  const sizes = new Map<string, ForcedState>()
  if (breakdown !== undefined) {
    const answered = sumOf([...(counted.get(breakdown.code) ?? new Map<string | null, Tally>()).values()])
    const own = suppressDistribution({ options: groups.map((group) => ({ key: group.code, count: answered.options.get(group.code) ?? 0 })) }, { threshold: context.threshold })
    for (const group of groups) sizes.set(group.code, own.options.get(group.code)?.suppressed === false ? 'shown' : 'suppressed')
  }

  const results = questions.map((question): QuestionResult => {
    const options = optionsOf(question)
    const isNumber = question.type === 'number'
    const additive = question.type !== 'multiple_choice' && !isNumber
    const byGroup = counted.get(question.code) ?? new Map<string | null, Tally>()
    // A number has no options: its table is its n alone (a margin over no options, given).
    const cellsOf = (tally: Tally | undefined): Array<{ key: string, count: number }> => isNumber
      ? []
      : options.map((option) => ({ key: option.code, count: tally?.options.get(option.code) ?? 0 }))
    const overallTally = sumOf([...byGroup.values()])
    const n = (tally: Tally | undefined): { n: number } | Record<string, never> => additive ? {} : { n: tally?.respondents ?? 0 }
    const overallSpec = { options: cellsOf(overallTally), ...n(overallTally) }
    let overall: DistributionOutcome
    let perGroup = new Map<string, DistributionOutcome>()
    if (breakdown === undefined) {
      overall = suppressDistribution({ ...overallSpec, additive }, { threshold: context.threshold })
    } else {
      const linked = suppressLinked({
        additive,
        overall: overallSpec,
        groups: groups.map((group) => ({ key: group.code, options: cellsOf(byGroup.get(group.code)), ...n(byGroup.get(group.code)), forced: sizes.get(group.code) ?? 'suppressed' }))
      }, { threshold: context.threshold })
      overall = linked.overall
      perGroup = linked.groups
    }
    const distribution = (outcome: DistributionOutcome, statisticKey: string | null) => {
      const nStatus: CellStatus = outcome.n
      const shown: OptionResult[] = isNumber
        ? []
        : options.map((option) => {
          const status = outcome.options.get(option.code) ?? { count: null, suppressed: true }
          return { code: option.code, label: label(option.label, option.code), count: status.count, share: shareOf(status, nStatus), suppressed: status.suppressed }
        })
      const figuresOf = VALUE_TYPES.has(question.type) ? statisticsOf(question, nStatus, shown, statistics.get(JSON.stringify([question.code, statisticKey])), context.threshold) : {}
      // The answers of respondents without a breakdown answer weigh in the overall mean only: with every
      // group's mean shown, theirs would be the difference. When they are fewer than the threshold, the
      // groups' means of a number are withheld (a scale's are already, as its cells protect them).
      if (statisticKey !== '*' && 'mean' in figuresOf && isSmallCount(byGroup.get(null)?.respondents ?? 0, context.threshold)) figuresOf.mean = null
      return { n: nStatus.count, n_suppressed: nStatus.suppressed, options: shown, ...figuresOf }
    }
    const result: QuestionResult = { code: question.code, type: question.type as QuestionResult['type'], label: label(question.label, question.code), ...distribution(overall, '*') }
    if (breakdown !== undefined) {
      result.groups = groups.map((group): GroupResult => {
        const outcome = perGroup.get(group.code)
        if (outcome === undefined) throw new Error('the linked suppression lost a group')
        return { code: group.code, label: label(group.label, group.code), ...distribution(outcome, group.code) }
      })
    }
    return result
  })
  return {
    survey_id: survey.id,
    language: context.language,
    small_cell_threshold: context.threshold,
    breakdown: breakdown === undefined ? null : { code: breakdown.code, label: label(breakdown.label, breakdown.code) },
    questions: results
  }
}

function sumOf (tallies: readonly Tally[]): Tally {
  const sum: Tally = { respondents: 0, options: new Map() }
  for (const tally of tallies) {
    sum.respondents += tally.respondents
    for (const [option, count] of tally.options) sum.options.set(option, (sum.options.get(option) ?? 0) + count)
  }
  return sum
}

/**
 * A mean and median shown only where their count is: not when n is withheld or below the threshold, and
 * for a scale not when any point is withheld, since the mean weighs the points and would solve them.
 */
function statisticsOf (question: SurveyQuestion, n: CellStatus, options: readonly OptionResult[], row: StatisticRow | undefined, threshold: number): { mean: number | null, median: number | null } {
  const hiddenPoint = SCALE_TYPES.has(question.type) && options.some((option) => option.suppressed)
  if (row === undefined || hiddenPoint) return { mean: null, median: null }
  return { mean: statisticFor(row.mean, n, threshold), median: statisticFor(row.median, n, threshold) }
}

export default resultsRoutes
