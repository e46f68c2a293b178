import Type, { type Static } from 'typebox'
import { QUESTION_TYPES, SURVEY_STATUSES } from '../../../db/schema/index.js'
import { DateOnly, Int, LanguageTag, Nullable, OrNull, PageQuery, Timestamp, TranslatedText, Uuid } from '../../../lib/schemas.js'

/** The most questions a survey holds, and options a question offers. */
export const MAX_QUESTIONS = 200
export const MAX_OPTIONS = 50
/** The longest free-text answer. */
export const MAX_TEXT_ANSWER = 5000

const CODE_PATTERN = '^[a-z0-9][a-z0-9_]{0,63}$'
const Code = (description: string) => Type.String({ pattern: CODE_PATTERN, maxLength: 64, description })

const Option = Type.Object({
  code: Code('Stable code of the option, what answers name and results count; frozen once the survey opens.'),
  label: TranslatedText(500)
}, { additionalProperties: false })

const Question = Type.Object({
  code: Code('Stable code of the question, what answers are keyed by; frozen once the survey opens.'),
  type: Type.Enum(QUESTION_TYPES, {
    description: 'single_choice and multiple_choice answer option codes; yes_no answers true or false; likert_5 answers 1 to 5; ' +
      'rating_0_10 answers 0 to 10; number answers a number within min and max; text answers free text (personal: sealed).'
  }),
  required: Type.Optional(Type.Boolean({ default: false })),
  label: TranslatedText(1000),
  help: Type.Optional(TranslatedText(2000)),
  options: Type.Optional(Type.Array(Option, {
    maxItems: MAX_OPTIONS,
    description: 'Required (at least two) for single_choice and multiple_choice. yes_no and likert_5 may label their fixed points ' +
      '(codes yes and no; 1 to 5); other types take none.'
  })),
  min: Type.Optional(Type.Number({ minimum: -1e12, maximum: 1e12, description: 'Lowest number accepted (number questions only).' })),
  max: Type.Optional(Type.Number({ minimum: -1e12, maximum: 1e12, description: 'Highest number accepted (number questions only).' })),
  breakdown: Type.Optional(Type.Boolean({
    default: false,
    description: 'A demographic question (neighbourhood, age band, language, community) that results can be cut by; single_choice or yes_no.'
  }))
}, { additionalProperties: false })

const definitionFields = {
  title: TranslatedText(300),
  description: Nullable(TranslatedText(5000)),
  languages: Type.Array(LanguageTag(), { minItems: 1, maxItems: 40, uniqueItems: true, description: 'Every language the survey is offered in; each text needs a translation in each.' }),
  default_language: LanguageTag({ description: 'One of languages: what a label falls back to.' }),
  opens_at: Nullable(Type.String({ format: 'date-time', maxLength: 40, description: 'When set, an open survey takes responses from this time.' })),
  closes_at: Nullable(Type.String({ format: 'date-time', maxLength: 40, description: 'When set, an open survey takes responses until this time.' })),
  anonymous: Type.Boolean({ description: 'True (the default): respondents leave no contact details. False: they may, and the details are personal data, sealed.' }),
  questions: Type.Array(Question, { maxItems: MAX_QUESTIONS })
}

export const SurveyInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id in the city\'s own records; unique in the city.' })),
  title: definitionFields.title,
  description: Type.Optional(definitionFields.description),
  languages: definitionFields.languages,
  default_language: definitionFields.default_language,
  opens_at: Type.Optional(definitionFields.opens_at),
  closes_at: Type.Optional(definitionFields.closes_at),
  anonymous: Type.Optional(definitionFields.anonymous),
  questions: Type.Optional(definitionFields.questions)
}, {
  $id: 'SurveyInput',
  additionalProperties: false,
  description: 'A new survey is a draft. Every text (title, description, question and option labels, help) is a map from language tag to text, ' +
    'with a translation for each of `languages`: a gap is a 422 listing each one.'
})

/** A translated text in a merge patch: a language mapped to null removes that translation. */
const TranslatedPatch = (maxLength: number) => Type.Record(Type.String({ pattern: '^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$', maxLength: 35 }), Nullable(Type.String({ maxLength })), { minProperties: 1, maxProperties: 40 })

export const SurveyPatchSchema = Type.Object({
  title: Type.Optional(TranslatedPatch(300)),
  description: Type.Optional(Nullable(TranslatedPatch(5000))),
  languages: Type.Optional(definitionFields.languages),
  default_language: Type.Optional(definitionFields.default_language),
  opens_at: Type.Optional(definitionFields.opens_at),
  closes_at: Type.Optional(definitionFields.closes_at),
  anonymous: Type.Optional(definitionFields.anonymous),
  questions: Type.Optional(definitionFields.questions),
  status: Type.Optional(Type.Enum(SURVEY_STATUSES, { description: 'draft → open → closed → archived, one step at a time.' }))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): translated texts merge language by language (null removes one), questions replace whole. ' +
    'Once the survey is open its questions, options, codes, languages and anonymity are frozen (409); labels may still be corrected, not removed.'
})

const TranslatedOut = (maxLength: number) => Type.Record(Type.String({ maxLength: 35 }), Type.String({ maxLength }), { maxProperties: 40 })

const SurveyOutFields = {
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  languages: Type.Array(Type.String({ maxLength: 35 }), { maxItems: 40 }),
  default_language: Type.String({ maxLength: 35 }),
  status: Type.Enum(SURVEY_STATUSES),
  opens_at: OrNull(Timestamp()),
  closes_at: OrNull(Timestamp()),
  anonymous: Type.Boolean(),
  accepting_responses: Type.Boolean({ description: 'Whether the portal may submit responses now: open, and within opens_at and closes_at.' }),
  copied_from: OrNull(Uuid({ description: 'The survey this one was copied from.' })),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}

export const SurveySchema = Type.Object({
  ...SurveyOutFields,
  title: TranslatedOut(300),
  description: OrNull(TranslatedOut(5000)),
  questions: Type.Array(Type.Object({
    code: Type.String({ maxLength: 64 }),
    type: Type.Enum(QUESTION_TYPES),
    required: Type.Boolean(),
    label: TranslatedOut(1000),
    help: Type.Optional(TranslatedOut(2000)),
    options: Type.Optional(Type.Array(Type.Object({ code: Type.String({ maxLength: 64 }), label: TranslatedOut(500) }, { additionalProperties: false }), { maxItems: MAX_OPTIONS })),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    breakdown: Type.Boolean()
  }, { additionalProperties: false }), { maxItems: MAX_QUESTIONS })
}, { $id: 'Survey', additionalProperties: false })

export const LocalizedSurveySchema = Type.Object({
  ...SurveyOutFields,
  language: Type.String({ maxLength: 35, description: 'The language every label below is in.' }),
  title: Type.String({ maxLength: 300 }),
  description: OrNull(Type.String({ maxLength: 5000 })),
  questions: Type.Array(Type.Object({
    code: Type.String({ maxLength: 64 }),
    type: Type.Enum(QUESTION_TYPES),
    required: Type.Boolean(),
    label: Type.String({ maxLength: 1000 }),
    help: Type.Optional(Type.String({ maxLength: 2000 })),
    options: Type.Optional(Type.Array(Type.Object({ code: Type.String({ maxLength: 64 }), label: Type.String({ maxLength: 500 }) }, { additionalProperties: false }), { maxItems: MAX_OPTIONS })),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    breakdown: Type.Boolean()
  }, { additionalProperties: false }), { maxItems: MAX_QUESTIONS })
}, { $id: 'LocalizedSurvey', additionalProperties: false, description: 'A survey with every label a plain string in one language, as a portal renders the form.' })

export const SurveyListQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(Type.Enum(SURVEY_STATUSES))
}, { additionalProperties: false })

export const SurveyGetQuery = Type.Object({
  language: Type.Optional(LanguageTag({ description: 'Answer every label as a plain string in this language (falling back to default_language).' }))
}, { additionalProperties: false })

const Answer = Type.Union([
  Type.String({ maxLength: MAX_TEXT_ANSWER }),
  Type.Number({ minimum: -1e12, maximum: 1e12 }),
  Type.Boolean(),
  Type.Array(Type.String({ maxLength: 64 }), { maxItems: MAX_OPTIONS })
], { description: 'An option code (single_choice), option codes (multiple_choice), true or false (yes_no), a number (likert_5, rating_0_10, number) or text.' })

const Contact = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  phone: Type.Optional(Type.String({ pattern: '^[0-9+().\\-\\s]{3,40}$', maxLength: 40 }))
}, { additionalProperties: false, minProperties: 1, description: 'Personal: only on a survey that is not anonymous; sealed, and shown only with surveys:read_responses.' })

export const ResponseInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id of the paper form; required in a batch, where sending it again changes nothing.' })),
  language: LanguageTag({ description: 'The respondent\'s language: one of the survey\'s languages.' }),
  filled_on: Type.Optional(DateOnly({ description: 'The day the form was filled in (a paper form typed in later); today by default.' })),
  answers: Type.Record(Type.String({ maxLength: 64 }), Answer, { maxProperties: MAX_QUESTIONS, description: 'Answers keyed by question code.' }),
  contact: Type.Optional(Contact)
}, { $id: 'SurveyResponseInput', additionalProperties: false })

export const ResponseReceiptSchema = Type.Object({
  id: Uuid(),
  survey_id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  language: Type.String({ maxLength: 35 }),
  channel: Type.Enum(['portal', 'paper']),
  filled_on: DateOnly(),
  submitted_at: Timestamp()
}, { $id: 'SurveyResponseReceipt', additionalProperties: false, description: 'What the submitter is told: never the answers.' })

export const ResponseSchema = Type.Object({
  ...ResponseReceiptSchema.properties,
  answers: Type.Record(Type.String({ maxLength: 64 }), Type.Union([
    Type.String({ maxLength: MAX_TEXT_ANSWER }), Type.Number(), Type.Boolean(), Type.Array(Type.String({ maxLength: 64 }), { maxItems: MAX_OPTIONS })
  ]), { maxProperties: MAX_QUESTIONS, description: 'Every answer, free text included.' }),
  contact: OrNull(Type.Object({
    name: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.String({ maxLength: 254 })),
    phone: Type.Optional(Type.String({ maxLength: 40 }))
  }, { additionalProperties: false })),
  personal_data: Type.Enum(['held', 'none', 'unreadable'], { description: 'Whether free text or contact details are sealed with the response; unreadable when they fail their integrity check.' })
}, { $id: 'SurveyResponse', additionalProperties: false })

export const ResponseParams = Type.Object({ id: Uuid(), response_id: Uuid() }, { additionalProperties: false })

export type SurveyInput = Static<typeof SurveyInputSchema>
export type SurveyPatch = Static<typeof SurveyPatchSchema>
export type Survey = Static<typeof SurveySchema>
export type LocalizedSurvey = Static<typeof LocalizedSurveySchema>
export type ResponseInput = Static<typeof ResponseInputSchema>
export type ResponseReceipt = Static<typeof ResponseReceiptSchema>
export type SurveyResponse = Static<typeof ResponseSchema>
