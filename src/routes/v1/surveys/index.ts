import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { actorOf, recordAudit, recordAudits } from '../../../lib/audit.js'
import { BatchResult, contentHashOf } from '../../../lib/batch.js'
import { today } from '../../../lib/dates.js'
import { etagOf } from '../../../lib/etag.js'
import { newId } from '../../../lib/ids.js'
import { createOne, refuseKeyWithoutRead, registerBatchRoute } from '../../../lib/import-routes.js'
import { applyMergePatch, type JsonObject } from '../../../lib/merge-patch.js'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { notFound, ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, NoContent, Page, PageQuery, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { grants } from '../../../lib/scopes.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { responseImports } from './imports.js'
import { toLocalizedSurvey, toReceipt, toResponse, toSurvey, toSurveyInput } from './present.js'
import {
  deleteResponse, deleteSurvey, KEEP_SURVEY, getResponse, getSurvey, insertSurvey, listResponses, listSurveys, loadSurvey, openResponse, replaceSurvey,
  RESPONSES_SCOPE, responseVault, SURVEY_REFERENCES, type SurveyRow
} from './repo.js'
import { acceptingResponses, checkTransition, freezeProblems, prepareResponse, prepareSurvey, type SurveyDraft, type SurveyStatus } from './rules.js'
import {
  LocalizedSurveySchema, ResponseInputSchema, ResponseParams, ResponseReceiptSchema, ResponseSchema, SurveyGetQuery, SurveyInputSchema,
  SurveyListQuery, SurveyPatchSchema, SurveySchema, type ResponseInput, type SurveyInput
} from './schema.js'

const LIST = 'surveys'
const RESPONSES_LIST = 'survey-responses'

/** The answer of POST /v1/surveys/{id}/responses/batch. */
const SurveyResponseBatchResult = BatchResult('SurveyResponseBatchResult')

/** Problems of the rules (paths relative to the body) as one 422. */
function unprocessable (detail: string, problems: FieldError[]): ProblemError {
  return new ProblemError('unprocessable', detail, { errors: problems.map((p) => ({ ...p, path: `/body${p.path}` })) })
}

/** Why the portal may not submit a response to the survey now (409), or null. */
function takesPortalResponses (survey: Pick<SurveyRow, 'status' | 'opensAt' | 'closesAt'>): string | null {
  if (acceptingResponses(survey, new Date())) return null
  return survey.status === 'open' ? 'The survey takes responses only between its opens_at and closes_at.' : `The survey is ${survey.status}: it takes no responses.`
}

/** Why paper responses may not be imported into the survey (409), or null: they are, while it is open or closed. */
function takesPaperResponses (survey: Pick<SurveyRow, 'status'>): string | null {
  return survey.status === 'open' || survey.status === 'closed' ? null : `The survey is ${survey.status}: paper responses are imported while it is open or closed.`
}

const incomplete = (problems: FieldError[]): ProblemError =>
  unprocessable(`The survey definition has ${problems.length} problem(s), missing translations included; errors lists each one.`, problems)

const surveysRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const schema of [SurveySchema, LocalizedSurveySchema, SurveyInputSchema, ResponseInputSchema, ResponseReceiptSchema, ResponseSchema, SurveyResponseBatchResult]) app.addSchema(schema)
  const SurveyRef = ref(SurveySchema)
  const vault = responseVault(app.subkey('personal-data'))
  const hashKey = app.subkey('survey-content')

  /** Creates a survey and audits it, in one transaction. */
  async function create (request: Parameters<typeof actorOf>[0], cityId: string, draft: SurveyDraft, contentHash: string, copiedFrom?: string): Promise<SurveyRow> {
    return await app.db.transaction(async (tx) => {
      const row = await insertSurvey(tx, cityId, { id: newId(), draft, contentHash, ...(copiedFrom !== undefined ? { copiedFrom } : {}) })
      await recordAudit(tx, cityId, actorOf(request), { action: 'survey.created', objectType: 'survey', objectId: row.id, details: copiedFrom !== undefined ? { copied_from: copiedFrom } : {} })
      return row
    })
  }

  app.post('', {
    schema: {
      operationId: 'createSurvey',
      tags: ['surveys'],
      summary: 'Start a community survey (a draft)',
      description: 'A needs and vulnerabilities assessment asking residents about the landscape of hate and their prevention priorities. ' +
        'Every text is translated into each of `languages`; a gap is a 422 listing each one. Open it with PATCH {"status": "open"}. ' +
        'An `external_id` is unique in the city (409), so sending one needs surveys:read.',
      security: [{ bearer: ['surveys:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(SurveyInputSchema),
      response: { 201: withEtag(SurveyRef), ...problemResponses(...AUTHENTICATED, 409, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const body = request.body as SurveyInput
    refuseKeyWithoutRead(caller, body.external_id, 'survey', 'surveys:read')
    const prepared = prepareSurvey(body)
    if (prepared.draft === null) throw incomplete(prepared.problems)
    const row = await create(request, caller.cityId, prepared.draft, contentHashOf(body, hashKey, caller.keyId))
    return await reply.code(201).header('location', `/v1/surveys/${row.id}`).header('etag', etagOf(row.id, row.version)).send(toSurvey(row, new Date()))
  })

  app.get('', {
    schema: {
      operationId: 'listSurveys',
      tags: ['surveys'],
      summary: 'List surveys',
      description: 'Newest first; filter by status.',
      security: [{ bearer: ['surveys:read'] }],
      querystring: SurveyListQuery,
      response: { 200: Page(SurveyRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, status } = request.query
    const before = cursor !== undefined ? uuidPosition(app.cursors.decode(caller.cityId, LIST, cursor)) : undefined
    const rows = await listSurveys(app.db, caller.cityId, { status, limit }, before)
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(caller.cityId, LIST, position))
    const now = new Date()
    return { data: page.data.map((row) => toSurvey(row, now)), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getSurvey',
      tags: ['surveys'],
      summary: 'Read a survey, with every translation or in one language',
      description: 'With `language`, every label is a plain string in that language (falling back to default_language), so that a portal ' +
        'renders the form without translation logic of its own.',
      security: [{ bearer: ['surveys:read'] }],
      params: IdParams,
      querystring: SurveyGetQuery,
      response: { 200: withEtag(Type.Union([SurveyRef, ref(LocalizedSurveySchema)])), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const row = await loadSurvey(app.db, caller.cityId, request.params.id)
    reply.header('etag', etagOf(row.id, row.version))
    const language = request.query.language
    return language !== undefined ? toLocalizedSurvey(row, language, new Date()) : toSurvey(row, new Date())
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateSurvey',
      tags: ['surveys'],
      summary: 'Change a survey: its definition, its status',
      description: 'Requires `If-Match`. Status: draft → open → closed → archived, one step at a time (another move is a 409). Every save, and ' +
        'opening, checks that each text has a translation in each language (422 listing each gap). Once open, questions, options, codes, ' +
        'languages and anonymity are frozen (409); labels may still be corrected.',
      security: [{ bearer: ['surveys:read', 'surveys:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(SurveyPatchSchema),
      response: { 200: withEtag(SurveyRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 422, 428) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { status, ...fields } = request.body
    const updated = await updateVersioned<SurveyRow>(app.db, request, reply, {
      what: 'survey',
      objectType: 'survey',
      action: (row) => status !== undefined && status !== row.status ? 'survey.status_changed' : 'survey.updated',
      details: (row, written) => status !== undefined ? { from: row.status, to: written.status } : {},
      read: async (tx) => await getSurvey(tx, caller.cityId, request.params.id),
      write: async (tx, row) => {
        const from = row.status as SurveyStatus
        const to = status ?? from
        checkTransition(from, to)
        const prepared = prepareSurvey(applyMergePatch(toSurveyInput(row) as JsonObject, fields as JsonObject) as SurveyInput)
        if (prepared.draft === null) throw incomplete(prepared.problems)
        if (from !== 'draft') {
          const frozen = freezeProblems(row, prepared.draft)
          if (frozen.length > 0) throw new ProblemError('conflict', `The survey is ${from}: its questions, options, codes, languages and anonymity are frozen; labels may be corrected.`, { errors: frozen })
        }
        if (from === 'draft' && to === 'open' && prepared.draft.questions.length === 0) throw unprocessable('A survey needs a question before it opens.', [{ path: '/questions', message: 'must hold at least one question to open the survey' }])
        return await replaceSurvey(tx, caller.cityId, row.version, row.id, prepared.draft, to)
      }
    })
    return toSurvey(updated, new Date())
  })

  registerDeleteRoute(app, {
    operationId: 'deleteSurvey',
    tag: 'surveys',
    kind: 'survey',
    summary: 'Delete a draft survey',
    description: 'Only a draft survey, never opened and so without responses, and with no copies made from it, can be deleted (409 otherwise): ' +
      'close and archive it with PATCH {"status": ...} instead.',
    scope: 'surveys:write',
    readScope: 'surveys:read',
    references: SURVEY_REFERENCES,
    instead: KEEP_SURVEY,
    remove: deleteSurvey
  })

  app.post('/:id/copy', {
    schema: {
      operationId: 'copySurvey',
      tags: ['surveys'],
      summary: 'Start a new draft from a survey',
      description: 'The copy has the same texts and questions, no period, no responses, and names the survey it came from: the next round of an assessment. ' +
        'It answers the source\'s definition, so it needs surveys:read besides surveys:write.',
      security: [{ bearer: ['surveys:write', 'surveys:read'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      params: IdParams,
      response: { 201: withEtag(SurveyRef), ...problemResponses(...AUTHENTICATED, 404, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const source = await loadSurvey(app.db, caller.cityId, request.params.id)
    // The same texts and questions, without the source's identity and period.
    const { external_id: _e, opens_at: _o, closes_at: _c, ...copied } = toSurveyInput(source)
    const prepared = prepareSurvey(copied)
    if (prepared.draft === null) throw incomplete(prepared.problems)
    const row = await create(request, caller.cityId, prepared.draft, contentHashOf(copied, hashKey, caller.keyId), source.id)
    return await reply.code(201).header('location', `/v1/surveys/${row.id}`).header('etag', etagOf(row.id, row.version)).send(toSurvey(row, new Date()))
  })

  app.post('/:id/responses', {
    schema: {
      operationId: 'submitSurveyResponse',
      tags: ['surveys'],
      summary: 'Submit a resident\'s response',
      description: 'Answers keyed by question code, checked against the definition: an unknown question, an answer of the wrong type, an option ' +
        'the question does not offer, a number out of range, a required question left unanswered are each listed in one 422. Only while ' +
        'the survey is open and within opens_at and closes_at (409 otherwise). Free-text answers and contact details are sealed; the answer ' +
        'never repeats them. A resident portal\'s shared key submits with `survey-responses:submit`: no external_id, every response a new one, ' +
        'the answer a receipt. An external_id (a paper form typed in by staff) needs `survey-responses:write`, and is that key\'s own. ' +
        'Answers are checked against the survey\'s questions, and a refusal names them, so either scope goes with surveys:read.',
      security: [{ bearer: ['survey-responses:submit', 'surveys:read'] }, { bearer: ['survey-responses:write', 'surveys:read'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      params: IdParams,
      body: ref(ResponseInputSchema),
      response: { 200: ref(ResponseReceiptSchema), 201: ref(ResponseReceiptSchema), ...problemResponses(...AUTHENTICATED, 404, 409, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    // A form id is for staff entering paper forms; a portal's shared key only ever submits a new response.
    if ((request.body as ResponseInput).external_id !== undefined && !grants(caller.scopes, 'survey-responses:write')) {
      throw new ProblemError('forbidden', 'An external_id (a paper form\'s id) needs survey-responses:write; a portal submits without it.')
    }
    const survey = await loadSurvey(app.db, caller.cityId, request.params.id)
    const refusal = takesPortalResponses(survey)
    if (refusal !== null) throw new ProblemError('conflict', refusal)
    const context = { channel: 'portal' as const, today: today(caller.city.timezone), takes: takesPortalResponses }
    // The answers are checked here, so that every problem of the form is one 422.
    const checked = prepareResponse(survey, request.body as ResponseInput, context)
    if (checked.draft === null) throw unprocessable(`The response has ${checked.problems.length} problem(s); errors lists each one.`, checked.problems)
    return await createOne(app, request, reply, responseImports(vault, survey, context, caller.keyId), {
      location: (id) => `/v1/surveys/${survey.id}/responses/${id}`,
      read: async (db, id) => await getResponse(db, caller.cityId, survey.id, id),
      present: toReceipt,
      etag: false
    })
  })

  registerBatchRoute(app, {
    resource: async (request) => {
      const caller = callerOf(request)
      const survey = await loadSurvey(app.db, caller.cityId, (request.params as { id: string }).id)
      const refusal = takesPaperResponses(survey)
      if (refusal !== null) throw new ProblemError('conflict', refusal)
      return responseImports(vault, survey, { channel: 'paper', today: today(caller.city.timezone), takes: takesPaperResponses }, caller.keyId)
    },
    path: '/:id/responses/batch',
    params: IdParams,
    operationId: 'importSurveyResponses',
    tag: 'surveys',
    summary: 'Import up to 1,000 paper responses (JSON array or NDJSON)',
    description: 'Paper forms typed in later, while the survey is open or after it closed: each with the `external_id` of its form and the day ' +
      'it was filled in (`filled_on`).',
    reimport: 'A form sent again is unchanged, so a re-run changes nothing; a form id already recorded with other answers is refused ' +
      '(a response is never changed: delete it first).',
    scope: 'survey-responses:write',
    alsoNeeds: ['surveys:read'],
    item: ResponseInputSchema,
    result: SurveyResponseBatchResult
  })

  app.get('/:id/responses', {
    schema: {
      operationId: 'listSurveyResponses',
      tags: ['surveys'],
      summary: 'Read individual responses, free text and contact details included',
      description: 'Personal data: needs surveys:read_responses, which no other scope implies, and every response shown is audited by id. ' +
        'In the order they came; free-text answers are only here, never in results.',
      security: [{ bearer: [RESPONSES_SCOPE] }],
      params: IdParams,
      querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
      response: { 200: Page(ref(ResponseSchema)), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const survey = await loadSurvey(app.db, caller.cityId, request.params.id)
    const { limit = 50, cursor } = request.query
    const list = `${RESPONSES_LIST}:${survey.id}`
    const after = cursor !== undefined ? uuidPosition(app.cursors.decode(caller.cityId, list, cursor)) : undefined
    const rows = await listResponses(app.db, caller.cityId, survey.id, limit, after)
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(caller.cityId, list, position))
    const shown = page.data.map((row) => ({ row, opened: openResponse(vault, survey.questions, row) }))
    for (const { row, opened } of shown) {
      if (opened.personalData === 'unreadable') request.log.error({ survey_response: row.id }, 'personal data of a survey_response failed its integrity check')
    }
    await recordAudits(app.db, caller.cityId, actorOf(request), shown.map(({ row, opened }) => ({
      action: 'survey_response.read', objectType: 'survey_response', objectId: row.id, details: { survey_id: survey.id, personal_data: opened.personalData }
    })))
    return { data: shown.map(({ row, opened }) => toResponse(row, opened)), next_cursor: page.next_cursor }
  })

  app.delete('/:id/responses/:response_id', {
    schema: {
      operationId: 'deleteSurveyResponse',
      tags: ['surveys'],
      summary: 'Erase one response on request',
      description: 'Deletes the response, its sealed free text and contact details, and its answers, so it no longer counts in results. ' +
        'Needs surveys:read_responses; every erasure is audited.',
      security: [{ bearer: [RESPONSES_SCOPE] }],
      params: ResponseParams,
      response: { 204: NoContent('Erased.'), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { id, response_id: responseId } = request.params
    await app.db.transaction(async (tx) => {
      await loadSurvey(tx, caller.cityId, id)
      if (!await deleteResponse(tx, caller.cityId, id, responseId)) throw notFound('survey response')
      await recordAudit(tx, caller.cityId, actorOf(request), { action: 'survey_response.deleted', objectType: 'survey_response', objectId: responseId, details: { survey_id: id } })
    })
    return reply.code(204).send(null)
  })
}

export default surveysRoutes
