import { sql } from 'drizzle-orm'
import { boolean, char, check, date, foreignKey, index, jsonb, numeric, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { cityId, createdAt, personalDataColumns, recordColumns } from './columns.js'

export const SURVEY_STATUSES = ['draft', 'open', 'closed', 'archived'] as const
export const QUESTION_TYPES = ['single_choice', 'multiple_choice', 'likert_5', 'rating_0_10', 'number', 'yes_no', 'text'] as const

/** Text in several languages, keyed by BCP 47 tag. */
export type Translated = Record<string, string>

/** A question of a survey definition, as stored (the API's shape). */
export interface SurveyQuestion {
  code: string
  type: (typeof QUESTION_TYPES)[number]
  required: boolean
  label: Translated
  help?: Translated
  options?: Array<{ code: string, label: Translated }>
  min?: number
  max?: number
  breakdown: boolean
}

/**
 * A community survey (needs and vulnerabilities assessment). The definition — texts in every declared language
 * and its questions — is one document: it is read whole, and frozen once the survey opens.
 */
export const surveys = pgTable('surveys', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  title: jsonb('title').$type<Translated>().notNull(),
  description: jsonb('description').$type<Translated>(),
  languages: text('languages').array().notNull(),
  defaultLanguage: varchar('default_language', { length: 35 }).notNull(),
  status: varchar('status', { length: 16 }).notNull().default('draft'),
  opensAt: timestamp('opens_at', { withTimezone: true, mode: 'date' }),
  closesAt: timestamp('closes_at', { withTimezone: true, mode: 'date' }),
  anonymous: boolean('anonymous').notNull().default(true),
  questions: jsonb('questions').$type<SurveyQuestion[]>().notNull().default([]),
  copiedFrom: uuid('copied_from'),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.copiedFrom], foreignColumns: [t.cityId, t.id] }),
  uniqueIndex('surveys_external_id_idx').on(t.cityId, t.externalId),
  index('surveys_status_idx').on(t.cityId, t.status, t.id),
  index('surveys_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  check('surveys_status_check', sql.raw(`status IN (${SURVEY_STATUSES.map((s) => `'${s}'`).join(', ')})`)),
  check('surveys_period_check', sql`${t.closesAt} IS NULL OR ${t.opensAt} IS NULL OR ${t.closesAt} > ${t.opensAt}`)
])

/**
 * One resident's response. Its choice, scale and number answers are de-identified and kept in the clear in
 * survey_answers, so that results are computed in SQL; free-text answers and contact details are personal,
 * sealed in the response under a data key of its own.
 */
export const surveyResponses = pgTable('survey_responses', {
  cityId: cityId(),
  surveyId: uuid('survey_id').notNull(),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  /**
   * The API key that entered the response. A form's external_id is the entering key's own: unique per key, never
   * compared with another key's, so a key learns nothing of the forms others entered.
   */
  enteredByKeyId: uuid('entered_by_key_id'),
  language: varchar('language', { length: 35 }).notNull(),
  channel: varchar('channel', { length: 16 }).notNull().default('portal'),
  filledOn: date('filled_on', { mode: 'string' }).notNull(),
  submittedAt: timestamp('submitted_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  ...personalDataColumns(),
  contentHash: char('content_hash', { length: 64 }).notNull(),
  createdAt: createdAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.surveyId, t.id] }),
  foreignKey({ columns: [t.cityId, t.surveyId], foreignColumns: [surveys.cityId, surveys.id] }),
  uniqueIndex('survey_responses_key_external_id_idx').on(t.cityId, t.surveyId, t.enteredByKeyId, t.externalId),
  index('survey_responses_list_idx').on(t.cityId, t.surveyId, t.id),
  check('survey_responses_channel_check', sql`${t.channel} IN ('portal', 'paper')`),
  check('survey_responses_personal_data_check', sql`(${t.personalData} IS NULL) = (${t.dataKey} IS NULL)`)
])

/**
 * The de-identified answers of a response, one row per question answered (and per option chosen, for multiple
 * choice): what results are counted from. A number, a scale point or a rating is `value`; a choice (yes/no
 * included) is `option_code`.
 */
export const surveyAnswers = pgTable('survey_answers', {
  cityId: cityId(),
  surveyId: uuid('survey_id').notNull(),
  responseId: uuid('response_id').notNull(),
  questionCode: varchar('question_code', { length: 64 }).notNull(),
  optionCode: varchar('option_code', { length: 64 }).notNull().default(''),
  value: numeric('value', { mode: 'number' }),
  position: smallint('position').notNull().default(0)
}, (t) => [
  primaryKey({ columns: [t.cityId, t.surveyId, t.responseId, t.questionCode, t.optionCode] }),
  foreignKey({ columns: [t.cityId, t.surveyId, t.responseId], foreignColumns: [surveyResponses.cityId, surveyResponses.surveyId, surveyResponses.id] }).onDelete('cascade'),
  index('survey_answers_results_idx').on(t.cityId, t.surveyId, t.questionCode, t.optionCode)
])
