import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { surveyResponses, surveys } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { PersonalData } from '../../../lib/personal-data.js'
import { notFound, ProblemError } from '../../../lib/problems.js'
import type { Reference } from '../../../lib/references.js'
import { answersOf, type AnswerRow, type ResponseDraft, type ResponsePersonal, type SurveyDraft, type SurveyStatus } from './rules.js'

export { answersOf, type AnswerRow, type ResponsePersonal } from './rules.js'

export type SurveyRow = typeof surveys.$inferSelect
/** A stored response; it has no version (a response is never changed), but the batch module reads one. */
export type ResponseRow = typeof surveyResponses.$inferSelect & { version: number }
/** A stored response with its de-identified answers. */
export type ResponseWithAnswers = ResponseRow & { answers: AnswerRow[] }

/** The scope that reveals individual responses (and the kind their sealed parts are bound to). */
export const RESPONSES_SCOPE = 'surveys:read_responses'

/**
 * The sealed part of responses (free-text answers, contact details): one vault for the routes, the results and
 * the export, made from the app's personal-data key (`app.subkey('personal-data')`).
 */
export const responseVault = (personalDataKey: Buffer): PersonalData<ResponsePersonal> =>
  new PersonalData<ResponsePersonal>(personalDataKey, 'survey_response', RESPONSES_SCOPE)

export async function getSurvey (db: Executor, cityId: string, id: string): Promise<SurveyRow | undefined> {
  const [row] = await db.select().from(surveys).where(and(eq(surveys.cityId, cityId), eq(surveys.id, id))).limit(1)
  return row
}

/** A survey of the city, or the 404 a missing one and another city's answer alike. */
export async function loadSurvey (db: Executor, cityId: string, id: string): Promise<SurveyRow> {
  const row = await getSurvey(db, cityId, id)
  if (row === undefined) throw notFound('survey')
  return row
}

const definitionColumns = (draft: SurveyDraft) => ({
  title: draft.title,
  description: draft.description,
  languages: draft.languages,
  defaultLanguage: draft.defaultLanguage,
  opensAt: draft.opensAt,
  closesAt: draft.closesAt,
  anonymous: draft.anonymous,
  questions: draft.questions
})

export async function insertSurvey (db: Executor, cityId: string, row: { id: string, draft: SurveyDraft, contentHash: string, copiedFrom?: string }): Promise<SurveyRow> {
  const [inserted] = await db.insert(surveys).values({
    cityId, id: row.id, externalId: row.draft.externalId, contentHash: row.contentHash, copiedFrom: row.copiedFrom ?? null, ...definitionColumns(row.draft)
  }).returning()
  return inserted as SurveyRow
}

/** Rewrites a survey after a PATCH, if it is still at `version`. */
export async function replaceSurvey (db: Executor, cityId: string, version: number, id: string, draft: SurveyDraft, status: SurveyStatus): Promise<SurveyRow | undefined> {
  const [updated] = await db.update(surveys).set({
    ...definitionColumns(draft),
    status,
    version: sql`${surveys.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(surveys.cityId, cityId), eq(surveys.id, id), eq(surveys.version, version))).returning()
  return updated
}

/** A page of surveys, newest first (their ids are time-ordered): the primary key, or (city, status, id). */
export async function listSurveys (db: Executor, cityId: string, filter: { status?: SurveyStatus | undefined, limit: number }, before: string | undefined): Promise<SurveyRow[]> {
  const conditions: Array<SQL | undefined> = [
    eq(surveys.cityId, cityId),
    filter.status !== undefined ? eq(surveys.status, filter.status) : undefined,
    before !== undefined ? lt(surveys.id, before) : undefined
  ]
  return await db.select().from(surveys).where(and(...conditions)).orderBy(desc(surveys.id)).limit(filter.limit + 1)
}

/**
 * The survey as it stands now, its row locked against a change of status until the transaction ends: responses
 * are written only while the survey still takes them, even when it is closed at the same moment.
 */
export async function lockSurvey (db: Executor, cityId: string, id: string): Promise<Pick<SurveyRow, 'status' | 'opensAt' | 'closesAt'> | undefined> {
  const [row] = await db.select({ status: surveys.status, opensAt: surveys.opensAt, closesAt: surveys.closesAt }).from(surveys)
    .where(and(eq(surveys.cityId, cityId), eq(surveys.id, id))).for('share')
  return row
}

/** What keeps a survey from being deleted: its responses (archive it instead), and the copies made from it. */
export const SURVEY_REFERENCES: Reference[] = [
  { what: 'copies made from it', table: 'surveys', column: 'copied_from' }
]

/** What to do with a survey that cannot be deleted. */
export const KEEP_SURVEY = 'Close and archive it with PATCH {"status": ...} instead.'

/**
 * Deletes a draft survey, in one statement. One that was ever opened may hold responses, which a key that
 * deletes surveys need not be able to see: it is refused for its status, which that key reads, never for
 * whether anyone answered.
 */
export async function deleteSurvey (db: Executor, cityId: string, id: string): Promise<boolean> {
  const deleted = await db.delete(surveys).where(and(eq(surveys.cityId, cityId), eq(surveys.id, id), eq(surveys.status, 'draft'))).returning({ id: surveys.id })
  if (deleted.length === 1) return true
  const survey = await getSurvey(db, cityId, id)
  if (survey === undefined) return false
  throw new ProblemError('conflict', `Only a draft survey can be deleted; this one is ${survey.status}. ${KEEP_SURVEY}`, {
    errors: [{ path: '/params/id', message: 'is not a draft survey' }]
  })
}

/**
 * What a response import writes, keyed on (survey_id, entering key, external_id); a stored response is never
 * rewritten.
 */
export const RESPONSE_WRITES: BulkTable<ImportRow<ResponseDraft & { surveyId: string, enteredByKeyId: string }>> = {
  table: surveyResponses,
  key: ['surveyId', 'enteredByKeyId', 'externalId'],
  insertOnly: true,
  values: {
    id: (r) => r.id,
    surveyId: (r) => r.draft.surveyId,
    enteredByKeyId: (r) => r.draft.enteredByKeyId,
    externalId: (r) => r.draft.externalId,
    language: (r) => r.draft.language,
    channel: (r) => r.draft.channel,
    filledOn: (r) => r.draft.filledOn,
    personalData: (r) => r.personalData,
    dataKey: (r) => r.dataKey,
    contentHash: (r) => r.contentHash
  },
  read: { columns: allColumnsOf(surveyResponses), decode: (raw) => decodeResponse(raw) }
}

const RESPONSE_COLUMNS = allColumnsOf(surveyResponses)
const decodeResponse = (raw: Record<string, unknown>): ResponseRow => ({ ...decodeRow<typeof surveyResponses.$inferSelect>(surveyResponses, raw), version: 1 })

/**
 * Writes the de-identified answers of responses just written, all in one statement: one row per question
 * answered, and per option chosen.
 */
export async function insertAnswers (db: Executor, cityId: string, responses: Array<{ surveyId: string, responseId: string, answers: AnswerRow[] }>): Promise<void> {
  const rows = responses.flatMap((r) => r.answers.map((a) => ({ ...a, surveyId: r.surveyId, responseId: r.responseId })))
  if (rows.length === 0) return
  const column = (value: (row: (typeof rows)[number]) => string | null) => textArrayLiteral(rows.map(value))
  await db.execute(sql`INSERT INTO survey_answers (city_id, survey_id, response_id, question_code, option_code, value, position)
    SELECT ${cityId}::uuid, u.survey_id::uuid, u.response_id::uuid, u.question_code, u.option_code, u.value::numeric, u.position::smallint
    FROM unnest(${column((r) => r.surveyId)}::text[], ${column((r) => r.responseId)}::text[], ${column((r) => r.questionCode)}::text[],
                ${column((r) => r.optionCode)}::text[], ${column((r) => r.value === null ? null : String(r.value))}::text[], ${column((r) => String(r.position))}::text[])
      AS u(survey_id, response_id, question_code, option_code, value, position)`)
}

/** The responses of a survey that one key entered under these external ids, in one query. */
export async function findResponsesByExternalId (db: Executor, cityId: string, surveyId: string, keyId: string, externalIds: string[]): Promise<ResponseRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${RESPONSE_COLUMNS} FROM survey_responses
    WHERE survey_responses.city_id = ${cityId} AND survey_responses.survey_id = ${surveyId} AND survey_responses.entered_by_key_id = ${keyId}
      AND survey_responses.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decodeResponse)
}

/**
 * The answers of these responses, in one query. Ordered as the primary key (city, survey, response, question,
 * option), so that the planner reads them from it by response, even before the table's statistics catch up
 * with a large import (a correlated subquery per response was then planned on the results index, reading
 * every answer of the survey once per response).
 */
export async function answersFor (db: Executor, cityId: string, surveyId: string, responseIds: string[]): Promise<Map<string, AnswerRow[]>> {
  const byResponse = new Map<string, AnswerRow[]>(responseIds.map((id) => [id, []]))
  if (responseIds.length === 0) return byResponse
  const rows = await query<{ response_id: string, question_code: string, option_code: string, value: string | number | null, position: number }>(db, sql`
    SELECT response_id, question_code, option_code, value, position FROM survey_answers
    WHERE city_id = ${cityId} AND survey_id = ${surveyId} AND response_id = ANY(${textArrayLiteral(responseIds)}::uuid[])
    ORDER BY response_id, question_code, option_code`)
  for (const row of rows) {
    byResponse.get(row.response_id)?.push({ questionCode: row.question_code, optionCode: row.option_code, value: row.value === null ? null : Number(row.value), position: row.position })
  }
  return byResponse
}

async function withAnswers (db: Executor, cityId: string, surveyId: string, rows: ResponseRow[]): Promise<ResponseWithAnswers[]> {
  const answers = await answersFor(db, cityId, surveyId, rows.map((r) => r.id))
  return rows.map((row) => ({ ...row, answers: answers.get(row.id) ?? [] }))
}

export async function getResponse (db: Executor, cityId: string, surveyId: string, id: string): Promise<ResponseWithAnswers | undefined> {
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${RESPONSE_COLUMNS} FROM survey_responses
    WHERE survey_responses.city_id = ${cityId} AND survey_responses.survey_id = ${surveyId} AND survey_responses.id = ${id}`)
  const [row] = await withAnswers(db, cityId, surveyId, rows.map(decodeResponse))
  return row
}

/**
 * A page of a survey's responses in the order of their time-ordered ids (the order they came, to the
 * millisecond), each with its answers: two queries, on the (city, survey, id) index and the answers' primary key.
 */
export async function listResponses (db: Executor, cityId: string, surveyId: string, limit: number, after: string | undefined): Promise<ResponseWithAnswers[]> {
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${RESPONSE_COLUMNS} FROM survey_responses
    WHERE survey_responses.city_id = ${cityId} AND survey_responses.survey_id = ${surveyId}
      ${after !== undefined ? sql`AND survey_responses.id > ${after}::uuid` : sql``}
    ORDER BY survey_responses.id LIMIT ${limit + 1}`)
  return await withAnswers(db, cityId, surveyId, rows.map(decodeResponse))
}

/** Erases a response: the row, its sealed part and (by cascade) its answers. */
export async function deleteResponse (db: Executor, cityId: string, surveyId: string, id: string): Promise<boolean> {
  const deleted = await query<{ id: string }>(db, sql`DELETE FROM survey_responses WHERE city_id = ${cityId} AND survey_id = ${surveyId} AND id = ${id} RETURNING id`)
  return deleted.length === 1
}

/**
 * A stored response opened: every answer as given (free text included) and the contact details, or
 * 'unreadable' for a sealed part that fails its integrity check (its de-identified answers are still shown).
 */
export function openResponse (vault: PersonalData<ResponsePersonal>, questions: SurveyRow['questions'], row: ResponseWithAnswers):
{ answers: ReturnType<typeof answersOf>, contact: NonNullable<ResponsePersonal['contact']> | null, personalData: 'held' | 'none' | 'unreadable' } {
  const personal = vault.open(row)
  if (personal === 'unreadable') return { answers: answersOf(questions, row.answers, null), contact: null, personalData: 'unreadable' }
  return { answers: answersOf(questions, row.answers, personal), contact: personal?.contact ?? null, personalData: personal === null ? 'none' : 'held' }
}
