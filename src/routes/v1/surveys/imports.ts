import type { Importable } from '../../../lib/batch.js'
import type { PersonalData } from '../../../lib/personal-data.js'
import { ProblemError } from '../../../lib/problems.js'
import { findResponsesByExternalId, insertAnswers, lockSurvey, RESPONSE_WRITES, type ResponseRow, type SurveyRow } from './repo.js'
import { prepareResponse, type ResponseDraft, type ResponsePersonal } from './rules.js'
import { ResponseInputSchema, type ResponseInput } from './schema.js'

/** How responses arrive, and why the survey as it stands now refuses them (null: it takes them). */
export interface ResponseContext {
  channel: 'portal' | 'paper'
  today: string
  takes: (survey: Pick<SurveyRow, 'status' | 'opensAt' | 'closesAt'>) => string | null
}

type ResponseImport = Importable<ResponseInput, ResponseRow, ResponseDraft & { surveyId: string, enteredByKeyId: string }, ResponsePersonal>

/**
 * The responses of one survey as the batch module imports them for one key: checked against its definition,
 * keyed on (survey, the entering key, external_id), never changed once stored (a re-run of the same key finds
 * them unchanged, or refuses other answers under the same form's id), their free text and contact details
 * sealed, their other answers written to survey_answers in the same transaction. A form id is the entering
 * key's own: another key's forms are never found, compared or refused, so its answers say nothing of them.
 */
export function responseImports (vault: PersonalData<ResponsePersonal>, survey: SurveyRow, context: ResponseContext, keyId: string): ResponseImport {
  return {
    kind: 'survey_response',
    schema: ResponseInputSchema,
    keyOf: (body) => body.external_id ?? null,
    keyOfRow: (row) => row.externalId ?? '',
    externalIdOf: (body) => body.external_id ?? null,
    find: async (db, cityId, bodies) => await findResponsesByExternalId(db, cityId, survey.id, keyId, bodies.map((b) => b.external_id as string)),
    // Never merged (fixed): a stored response is only recognised as unchanged, or refused.
    toInput: (row) => ({ language: row.language, filled_on: row.filledOn, answers: {} }),
    fixed: 'was already recorded with other answers; a response is never changed by an import (delete it, then import it again)',
    prepare: (input) => {
      const prepared = prepareResponse(survey, input, context)
      return prepared.draft === null ? prepared : { draft: { ...prepared.draft, surveyId: survey.id, enteredByKeyId: keyId }, problems: [] }
    },
    personal: { of: (draft) => draft.personal, data: vault, fields: ['answers', 'contact'] },
    table: RESPONSE_WRITES,
    written: async (db, cityId, rows) => {
      // Checked again in the write's transaction, the survey locked: a survey closed meanwhile takes nothing.
      const current = await lockSurvey(db, cityId, survey.id)
      const refusal = current === undefined ? 'The survey was deleted.' : context.takes(current)
      if (refusal !== null) throw new ProblemError('conflict', refusal)
      await insertAnswers(db, cityId, rows.map((r) => ({ surveyId: survey.id, responseId: r.id, answers: r.draft.answers })))
    },
    auditDetails: (row) => ({ survey_id: survey.id, channel: row.draft.channel })
  }
}
