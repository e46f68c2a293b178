import Type, { type Static } from 'typebox'
import { QUESTION_TYPES } from '../../../db/schema/index.js'
import { Int, LanguageTag, OrNull, Uuid } from '../../../lib/schemas.js'
import { MAX_OPTIONS, MAX_QUESTIONS } from './schema.js'

export const ResultsQuery = Type.Object({
  breakdown: Type.Optional(Type.String({
    pattern: '^[a-z0-9][a-z0-9_]{0,63}$',
    maxLength: 64,
    description: 'The code of a demographic question (one flagged `breakdown`): every question is also cut by its answer.'
  })),
  language: Type.Optional(LanguageTag({ description: 'The language of every label (falling back to the survey\'s default_language).' }))
}, { additionalProperties: false })

export type ResultsQueryString = Static<typeof ResultsQuery>

const OptionResultSchema = Type.Object({
  code: Type.String({ maxLength: 64, description: 'The option\'s code; for likert_5 and rating_0_10 the scale point, for yes_no `yes` or `no`.' }),
  label: Type.String({ maxLength: 500, description: 'The option\'s label in the chosen language; the code where the definition labels none.' }),
  count: OrNull(Int({ minimum: 0, maximum: 2147483647, description: 'Answers choosing the option; null when suppressed.' })),
  share: OrNull(Type.Number({ minimum: 0, maximum: 1, description: 'count ÷ n (for multiple_choice, of the respondents, so shares add up to more than 1); null when either is suppressed or n is 0.' })),
  suppressed: Type.Boolean({ description: 'True when count (and share) are withheld: a small count, or one that would give a small count back.' })
}, { additionalProperties: false })

const distributionFields = {
  n: OrNull(Int({ minimum: 0, maximum: 2147483647, description: 'Respondents who answered the question; null when suppressed.' })),
  n_suppressed: Type.Boolean({ description: 'True when n is withheld.' }),
  options: Type.Array(OptionResultSchema, { maxItems: 100, description: 'Every option in the definition\'s order, zeros included; empty for number questions.' }),
  mean: Type.Optional(OrNull(Type.Number({ description: 'likert_5, rating_0_10 and number: the mean answer; null when withheld.' }))),
  median: Type.Optional(OrNull(Type.Number({ description: 'likert_5, rating_0_10 and number: the median answer (the mean of the two middle answers for an even n); null when withheld.' })))
}

const GroupResultSchema = Type.Object({
  code: Type.String({ maxLength: 64, description: 'The breakdown option this group answered.' }),
  label: Type.String({ maxLength: 500 }),
  ...distributionFields
}, { additionalProperties: false })

const QuestionResultSchema = Type.Object({
  code: Type.String({ maxLength: 64 }),
  type: Type.Enum(QUESTION_TYPES.filter((type) => type !== 'text')),
  label: Type.String({ maxLength: 1000 }),
  ...distributionFields,
  groups: Type.Optional(Type.Array(GroupResultSchema, { maxItems: MAX_OPTIONS, description: 'With `breakdown`: the same figures for each option of the breakdown question, in its order.' }))
}, { additionalProperties: false })

export const SurveyResultsSchema = Type.Object({
  survey_id: Uuid(),
  language: LanguageTag({ description: 'The language the labels are in.' }),
  small_cell_threshold: Int({ minimum: 1, maximum: 100, description: 'The city\'s threshold: a count from 1 to this minus 1 is suppressed.' }),
  breakdown: OrNull(Type.Object({
    code: Type.String({ maxLength: 64 }),
    label: Type.String({ maxLength: 1000 })
  }, { additionalProperties: false })),
  questions: Type.Array(QuestionResultSchema, { maxItems: MAX_QUESTIONS, description: 'Every question but text questions, in the definition\'s order.' })
}, {
  $id: 'SurveyResults',
  additionalProperties: false,
  description: 'Counts, shares and statistics of a survey\'s answers with small cells suppressed; free-text answers never appear.'
})

export type SurveyResults = Static<typeof SurveyResultsSchema>
export type QuestionResult = Static<typeof QuestionResultSchema>
export type GroupResult = Static<typeof GroupResultSchema>
export type OptionResult = Static<typeof OptionResultSchema>
