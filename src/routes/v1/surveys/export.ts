import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { SurveyQuestion } from '../../../db/schema/index.js'
import { AUTHENTICATED, IdParams, LanguageTag, problemResponses } from '../../../lib/schemas.js'
import { exportFormat, exportResponse, beginExport, FormatQuery, streamExport, type CellValue, type ExportColumn, type ExportFormat, type FieldType } from '../../../lib/streaming.js'
import { callerOf } from '../../../plugins/auth.js'
import { listResponses, loadSurvey, openResponse, RESPONSES_SCOPE, responseVault, type ResponseWithAnswers, type SurveyRow } from './repo.js'
import { localized } from './rules.js'

const FORMATS: readonly ExportFormat[] = ['csv', 'ndjson']

/** A response as exported: its row and its answers opened (free text unsealed). */
interface OpenedResponse { row: ResponseWithAnswers, answers: Record<string, CellValue>, contact: { name?: string, email?: string, phone?: string } | null }

const FIELD_TYPES: Record<SurveyQuestion['type'], FieldType> = {
  single_choice: 'string',
  multiple_choice: 'list',
  yes_no: 'boolean',
  likert_5: 'integer',
  rating_0_10: 'integer',
  number: 'number',
  text: 'string'
}

/**
 * One column per question, headed by its label in `language` (a label two questions share gets the question's
 * code after it), choices written as their option labels in that language; then, on a survey that is not
 * anonymous, the contact details.
 */
export function responseColumns (survey: SurveyRow, language: string): Array<ExportColumn<OpenedResponse>> {
  const text = (t: Record<string, string>): string => localized(t, language, survey.defaultLanguage)
  const labels = survey.questions.map((q) => text(q.label))
  const columns: Array<ExportColumn<OpenedResponse>> = [
    { name: 'response_id', type: 'string', required: true, description: 'The response.', value: (r) => r.row.id },
    { name: 'filled_on', type: 'date', required: true, description: 'The day the form was filled in.', value: (r) => r.row.filledOn },
    { name: 'language', type: 'string', required: true, description: 'The respondent\'s language.', value: (r) => r.row.language },
    { name: 'channel', type: 'string', required: true, enum: ['portal', 'paper'], description: 'How it came in.', value: (r) => r.row.channel }
  ]
  survey.questions.forEach((question, i) => {
    const label = labels[i] as string
    const options = new Map((question.options ?? []).map((o) => [o.code, text(o.label)]))
    const choice = (code: string): string => options.get(code) ?? code
    const name = labels.indexOf(label) !== i || labels.lastIndexOf(label) !== i ? `${label} (${question.code})` : label
    columns.push({
      name,
      type: FIELD_TYPES[question.type],
      description: `Question ${question.code} (${question.type}).`,
      value: (r) => {
        const answer = r.answers[question.code]
        if (answer === undefined) return null
        if (question.type === 'single_choice' && typeof answer === 'string') return choice(answer)
        if (question.type === 'multiple_choice' && Array.isArray(answer)) return answer.map(choice)
        return answer
      }
    })
  })
  if (!survey.anonymous) {
    for (const part of ['name', 'email', 'phone'] as const) {
      columns.push({ name: `contact_${part}`, type: 'string', description: `Personal: the respondent's ${part}, when given.`, value: (r) => r.contact?.[part] ?? null })
    }
  }
  return columns
}

/**
 * GET /v1/surveys/{id}/responses/export: the responses of a survey as a file, streamed a page of responses at a
 * time (each page its own two short queries: responses, then their answers). Personal data: the scope that reads
 * responses, and every export audited.
 */
const surveyResponsesExport: FastifyPluginAsyncTypebox = async (app) => {
  const vault = responseVault(app.subkey('personal-data'))

  app.get('/:id/responses/export', {
    schema: {
      operationId: 'exportSurveyResponses',
      tags: ['surveys'],
      summary: 'Export a survey\'s responses (CSV or NDJSON), one column per question',
      description: 'Personal data: needs surveys:read_responses (never implied by admin), free-text answers and contact details included, ' +
        'and every export is audited. Columns are headed by the question labels in `language` (else the survey\'s default ' +
        'language) and choices written as their labels in it. In the order the responses came; streamed. Answers 503 with ' +
        'Retry-After when the server already runs as many exports as it allows.',
      security: [{ bearer: [RESPONSES_SCOPE] }],
      params: IdParams,
      querystring: Type.Object({
        format: FormatQuery(FORMATS),
        language: Type.Optional(LanguageTag({ description: 'The language of the labels; one of the survey\'s languages, else its default language.' }))
      }, { additionalProperties: false }),
      response: { 200: exportResponse(FORMATS, 'The responses, one per row.'), ...problemResponses(...AUTHENTICATED, 404, 503) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const survey = await loadSurvey(app.db, caller.cityId, request.params.id)
    const requested = request.query.language
    const language = requested !== undefined && survey.languages.includes(requested) ? requested : survey.defaultLanguage
    const format = exportFormat(request, FORMATS, request.query.format)
    const { release, slug } = await beginExport(app, request, async () => {}, () => ({
      action: 'survey_responses.exported', objectType: 'survey', objectId: survey.id, details: { format, language }
    }))
    return streamExport(app, reply, {
      release,
      format,
      fileName: [slug, 'survey', survey.id.slice(0, 8), 'responses', language],
      columns: responseColumns(survey, language),
      readPage: async (db, after: OpenedResponse | undefined, limit) => {
        const rows = (await listResponses(db, caller.cityId, survey.id, limit, after?.row.id)).slice(0, limit)
        return rows.map((row) => {
          const opened = openResponse(vault, survey.questions, row)
          if (opened.personalData === 'unreadable') request.log.error({ survey_response: row.id }, 'personal data of a survey_response failed its integrity check')
          return { row, answers: opened.answers, contact: opened.contact }
        })
      }
    })
  })
}

export default surveyResponsesExport
