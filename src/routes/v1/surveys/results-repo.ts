import { sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import type { SurveyQuestion } from '../../../db/schema/index.js'

/** The question types whose answers are a number (`value`), with a mean and a median. */
export const VALUE_TYPES: ReadonlySet<SurveyQuestion['type']> = new Set(['likert_5', 'rating_0_10', 'number'])
/** The value types whose points are counted like options. */
export const SCALE_TYPES: ReadonlySet<SurveyQuestion['type']> = new Set(['likert_5', 'rating_0_10'])

/** One cell of the counts: a question's option (a scale point as text; '' for a number) within a group. */
export interface CountRow {
  question: string
  option: string
  /** The breakdown option of the responses counted; null for responses that did not answer it (or no breakdown). */
  group: string | null
  /** Answers: rows of survey_answers. */
  answers: number
  /** Respondents: one row per response and question has position 0 (the first option chosen). */
  respondents: number
}

/** A question's mean and median within a group; `overall` for the figures over every response. */
export interface StatisticRow {
  question: string
  group: string | null
  overall: boolean
  n: number
  mean: number | null
  median: number | null
}

export interface ResultsQueryPlan {
  surveyId: string
  /** Every question counted (text questions have no rows in survey_answers and are never asked for). */
  questions: readonly SurveyQuestion[]
  breakdown?: string | undefined
}

const codesOf = (questions: readonly SurveyQuestion[], keep: (q: SurveyQuestion) => boolean): string =>
  textArrayLiteral(questions.filter(keep).map((q) => q.code))

/** survey_answers of the survey, joined with each response's breakdown answer as `g` when there is a breakdown. */
function answersWithGroup (cityId: string, plan: ResultsQueryPlan, codes: string): SQL {
  const join = plan.breakdown === undefined
    ? sql``
    : sql`LEFT JOIN survey_answers b ON b.city_id = a.city_id AND b.survey_id = a.survey_id AND b.response_id = a.response_id
        AND b.question_code = ${plan.breakdown}`
  return sql`FROM survey_answers a ${join}
    WHERE a.city_id = ${cityId} AND a.survey_id = ${plan.surveyId} AND a.question_code = ANY(${codes}::text[])`
}

/**
 * The counts of every question in one GROUP BY over survey_answers: per question, option (a scale point
 * for likert_5 and rating_0_10, '' for a number) and, with a breakdown, the respondent's breakdown answer.
 */
export function countsStatement (cityId: string, plan: ResultsQueryPlan): SQL {
  const group = plan.breakdown === undefined ? sql`NULL::text` : sql`b.option_code`
  const scales = codesOf(plan.questions, (q) => SCALE_TYPES.has(q.type))
  return sql`SELECT a.question_code AS question,
      CASE WHEN a.option_code <> '' THEN a.option_code WHEN a.question_code = ANY(${scales}::text[]) THEN a.value::int::text ELSE '' END AS option,
      ${group} AS "group", count(*)::int AS answers, (count(*) FILTER (WHERE a.position = 0))::int AS respondents
    ${answersWithGroup(cityId, plan, codesOf(plan.questions, (q) => q.type !== 'text'))}
    GROUP BY 1, 2, 3`
}

/**
 * The mean and median of every question answered with a number, overall and (with a breakdown) per group,
 * in one GROUP BY with grouping sets. The median is the 50th percentile, interpolated between the two
 * middle answers.
 */
export function statisticsStatement (cityId: string, plan: ResultsQueryPlan): SQL {
  const codes = codesOf(plan.questions, (q) => VALUE_TYPES.has(q.type))
  const sets = plan.breakdown === undefined ? sql`GROUPING SETS ((a.question_code))` : sql`GROUPING SETS ((a.question_code), (a.question_code, b.option_code))`
  const group = plan.breakdown === undefined ? sql`NULL::text` : sql`b.option_code`
  const overall = plan.breakdown === undefined ? sql`true` : sql`GROUPING(b.option_code) = 1`
  return sql`SELECT a.question_code AS question, ${group} AS "group", ${overall} AS overall, count(*)::int AS n,
      avg(a.value)::float8 AS mean, percentile_cont(0.5) WITHIN GROUP (ORDER BY a.value::float8) AS median
    ${answersWithGroup(cityId, plan, codes)} AND a.value IS NOT NULL
    GROUP BY ${sets}`
}

/** The counts and statistics of a survey's results: two set-based queries, whatever the number of questions. */
export async function resultFigures (db: Executor, cityId: string, plan: ResultsQueryPlan): Promise<{ counts: CountRow[], statistics: StatisticRow[] }> {
  const counts = await query<CountRow>(db, countsStatement(cityId, plan))
  const statistics = plan.questions.some((q) => VALUE_TYPES.has(q.type))
    ? await query<StatisticRow>(db, statisticsStatement(cityId, plan))
    : []
  return { counts, statistics: statistics.map((row) => ({ ...row, mean: row.mean === null ? null : Number(row.mean), median: row.median === null ? null : Number(row.median) })) }
}
