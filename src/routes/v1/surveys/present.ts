import type { SurveyQuestion } from '../../../db/schema/index.js'
import type { openResponse, ResponseRow, SurveyRow } from './repo.js'
import { acceptingResponses, localized } from './rules.js'
import type { LocalizedSurvey, ResponseReceipt, Survey, SurveyInput, SurveyResponse } from './schema.js'

function commonFields (row: SurveyRow, now: Date) {
  return {
    id: row.id,
    external_id: row.externalId,
    languages: row.languages,
    default_language: row.defaultLanguage,
    status: row.status as Survey['status'],
    opens_at: row.opensAt?.toISOString() ?? null,
    closes_at: row.closesAt?.toISOString() ?? null,
    anonymous: row.anonymous,
    accepting_responses: acceptingResponses(row, now),
    copied_from: row.copiedFrom,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

/** The wire form of a survey, every text with all its translations. */
export function toSurvey (row: SurveyRow, now: Date): Survey {
  return { ...commonFields(row, now), title: row.title, description: row.description, questions: row.questions }
}

/** The survey as a portal renders it: every label a plain string in `language` (else the default language). */
export function toLocalizedSurvey (row: SurveyRow, requested: string, now: Date): LocalizedSurvey {
  const language = row.languages.includes(requested) ? requested : row.defaultLanguage
  const text = (t: Record<string, string>): string => localized(t, language, row.defaultLanguage)
  return {
    ...commonFields(row, now),
    language,
    title: text(row.title),
    description: row.description === null ? null : text(row.description),
    questions: row.questions.map((q) => {
      const question: LocalizedSurvey['questions'][number] = { code: q.code, type: q.type, required: q.required, label: text(q.label), breakdown: q.breakdown }
      if (q.help !== undefined) question.help = text(q.help)
      if (q.options !== undefined) question.options = q.options.map((o) => ({ code: o.code, label: text(o.label) }))
      if (q.min !== undefined) question.min = q.min
      if (q.max !== undefined) question.max = q.max
      return question
    })
  }
}

/** A stored survey as the input that would produce it, so that a PATCH can be merged in and checked again. */
export function toSurveyInput (row: SurveyRow): SurveyInput {
  const input: SurveyInput = {
    title: row.title,
    languages: row.languages,
    default_language: row.defaultLanguage,
    anonymous: row.anonymous,
    questions: row.questions.map((q: SurveyQuestion) => ({ ...q }))
  }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.description !== null) input.description = row.description
  if (row.opensAt !== null) input.opens_at = row.opensAt.toISOString()
  if (row.closesAt !== null) input.closes_at = row.closesAt.toISOString()
  return input
}

/** What the submitter of a response is answered: where it is, never what it says. */
export function toReceipt (row: ResponseRow): ResponseReceipt {
  return {
    id: row.id,
    survey_id: row.surveyId,
    external_id: row.externalId,
    language: row.language,
    channel: row.channel as ResponseReceipt['channel'],
    filled_on: row.filledOn,
    submitted_at: row.submittedAt.toISOString()
  }
}

/** A response whole, for keys with surveys:read_responses. */
export function toResponse (row: ResponseRow, opened: ReturnType<typeof openResponse>): SurveyResponse {
  return { ...toReceipt(row), answers: opened.answers, contact: opened.contact, personal_data: opened.personalData }
}
