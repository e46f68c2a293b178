import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { incidents } from '../../../db/schema/index.js'
import { BatchResult, refuseNaming, type Naming } from '../../../lib/batch.js'
import { BATCH_BODY_LIMIT, registerBatchRoute } from '../../../lib/import-routes.js'
import { FEED_START, feedPageOf, feedPosition, pageOf, textPosition } from '../../../lib/pagination.js'
import { PersonalData } from '../../../lib/personal-data.js'
import { notFound, ProblemError } from '../../../lib/problems.js'
import { etagOf } from '../../../lib/etag.js'
import { AUTHENTICATED, IdParams, mergePatchBody, NoContent, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { TAXONOMY_VERSION } from '../../../taxonomies/index.js'
import { createReport, incidentImports } from './imports.js'
import { toIncident, toInput } from './present.js'
import { getIncident, listIncidents, possibleDuplicates, replaceIncident, sourceScope, type IncidentRow, type ListPosition, withoutUnseenDuplicates } from './repo.js'
import { carriesCodes, dateFilterProblem, mergeIncident, PERSONAL_FIELDS, prepareIncident, ruleContext, type PersonalData as Personal } from './rules.js'
import { IncidentInputSchema, IncidentListQuery, IncidentPatchSchema, IncidentSchema } from './schema.js'
import { nextCaseState, refuseErasedPersonalData, refuseUngrantedChanges } from './workflow.js'

/** The answer of POST /v1/incidents/batch. */
const IncidentBatchResult = BatchResult('IncidentBatchResult')
const LIST = 'incidents'
const REFERRAL_NAMES: readonly Naming[] = [{ scope: 'stakeholders:read', fields: ['referrals'] }]

const incidentsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(IncidentSchema)
  app.addSchema(IncidentInputSchema)
  app.addSchema(IncidentBatchResult)
  const IncidentRef = ref(IncidentSchema)
  const personal = new PersonalData<Personal>(app.subkey('personal-data'), 'incident', 'incidents:read_personal')
  const imports = incidentImports(personal)

  app.post('', {
    bodyLimit: BATCH_BODY_LIMIT,
    schema: {
      operationId: 'createIncident',
      tags: ['incidents'],
      summary: 'Report a bias incident or hate crime',
      description: 'One report, as a resident portal sends it. With `external_id`, re-sending the same report updates it (200) instead of creating another. ' +
        'The answer never carries personal fields; summary contact details are removed on write.',
      security: [{ bearer: ['incidents:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(IncidentInputSchema),
      response: { 200: withEtag(IncidentRef), 201: withEtag(IncidentRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415) }
    }
  }, async (request, reply) => await createReport(app, request, reply, imports, { present: (row) => toIncident(row) }))

  registerBatchRoute(app, {
    resource: imports,
    operationId: 'importIncidents',
    tag: 'incidents',
    summary: 'Import up to 1,000 reports (JSON array or NDJSON)',
    description: 'Upserts on (source, external_id): running the same import twice creates nothing new. The case (status, resolution, ' +
      'duplicate_of, referrals) is the city\'s and never changed by an import.',
    scope: 'incidents:write',
    item: IncidentInputSchema,
    result: IncidentBatchResult
  })

  app.get('', {
    schema: {
      operationId: 'listIncidents',
      tags: ['incidents'],
      summary: 'List incidents',
      description: 'Filter by when it occurred, bias motivation or category, type, status, neighbourhood, source, online, or changes since a time. ' +
        'Never carries personal fields (read one incident for those). A key limited to sources sees only their incidents.',
      security: [{ bearer: ['incidents:read'] }],
      querystring: IncidentListQuery,
      response: { 200: Page(IncidentRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const outOfRange = [dateFilterProblem('/query/occurred_from', filter.occurred_from), dateFilterProblem('/query/occurred_to', filter.occurred_to),
      dateFilterProblem('/query/updated_since', filter.updated_since)].filter((p) => p !== null)
    if (outOfRange.length > 0) throw new ProblemError('validation_failed', outOfRange.map((p) => `${p.path} ${p.message}`).join('; '), { errors: outOfRange })
    const order = filter.order ?? 'occurred_desc'
    const list = `${LIST}:${order}`
    const after = cursor !== undefined ? listPosition(order, app.cursors.decode(caller.cityId, list, cursor)) : undefined
    const rows = await listIncidents(app.db, caller.cityId, { ...filter, limit }, caller.sources, after)
    const encode = (position: unknown[]): string => app.cursors.encode(caller.cityId, list, position)
    const page = order === 'occurred_desc'
      ? pageOf(rows, limit, (row) => [row.occurredOn, row.id], encode)
      : feedPageOf(rows, limit, (row) => [row.changeXid, row.id], encode, after?.order === 'updated_asc' ? [after.changeXid, after.id] : FEED_START)
    return { data: (await withoutUnseenDuplicates(app.db, caller.cityId, caller.sources, page.data)).map((row) => toIncident(row)), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getIncident',
      tags: ['incidents'],
      summary: 'Read an incident',
      description: 'With `incidents:read_personal`, also the narrative, the reporter, the address and exact coordinates; every such read is audited. ' +
        'Other keys get coordinates rounded to about 1 km and no personal field.',
      security: [{ bearer: ['incidents:read'] }],
      params: IdParams,
      response: { 200: withEtag(IncidentRef), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const row = await getIncident(app.db, caller.cityId, request.params.id, caller.sources)
    if (row === undefined) throw notFound('incident')
    const view = personal.view(request, caller, row)
    await personal.recordReads(app.db, request, [{ row, view }])
    reply.header('etag', etagOf(row.id, row.version))
    const [shown] = await withoutUnseenDuplicates(app.db, caller.cityId, caller.sources, [row])
    return toIncident(shown as IncidentRow, view)
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateIncident',
      tags: ['incidents'],
      summary: 'Change an incident: classification, details, status, referrals',
      description: 'Requires `If-Match`, and a key that reads the incident: an ETag is predictable and is no permission, so `incidents:read` ' +
        'is needed besides the scope of what changes. The case (status, duplicate_of, referrals) needs `incidents:case`, the city\'s case ' +
        'workers\' scope; the report\'s details need `incidents:write`. Status follows the case workflow: received → under_review → ' +
        'verified | unfounded | duplicate; verified → referred | closed; referred, unfounded and duplicate → closed. Another move is a 422 ' +
        'naming the allowed ones. Marking a duplicate names the incident it repeats; both are kept.',
      security: [{ bearer: ['incidents:read', 'incidents:write'] }, { bearer: ['incidents:read', 'incidents:case'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(IncidentPatchSchema),
      response: { 200: withEtag(IncidentRef), ...problemResponses(...AUTHENTICATED, 404, 412, 422, 428) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const patch = request.body
    refuseUngrantedChanges(caller.scopes, patch)
    // A referral names a program or a stakeholder: whether it is one of the city's is stakeholders:read's to tell.
    refuseNaming(caller, REFERRAL_NAMES, patch)
    const updated = await updateVersioned<IncidentRow>(app.db, request, reply, {
      what: 'incident',
      objectType: 'incident',
      personalFields: PERSONAL_FIELDS,
      action: (row) => patch.status !== undefined && patch.status !== row.status ? 'incident.status_changed' : 'incident.updated',
      details: (row, written) => patch.status !== undefined ? { from: row.status, to: written.status } : {},
      read: async (tx) => await getIncident(tx, caller.cityId, request.params.id, caller.sources),
      write: async (tx, row) => {
        refuseErasedPersonalData(row, patch)
        // The change is applied to the whole record, personal data included, whatever the caller may read.
        const stored = personal.open(row)
        if (stored === 'unreadable') {
          throw new ProblemError('conflict', 'The personal data of this incident fails its integrity check; erase it (DELETE /v1/incidents/{id}/personal-data) before changing the incident.')
        }
        const caseFields = await nextCaseState(tx, caller, row, patch)
        const { status: _s, duplicate_of: _d, referrals: _r, ...fields } = patch
        const prepared = prepareIncident(mergeIncident(toInput(row, stored), fields),
          ruleContext(caller.city.timezone, carriesCodes(fields) ? TAXONOMY_VERSION : row.taxonomyVersion))
        if (prepared.draft === null) {
          throw new ProblemError('validation_failed', 'The change would leave the incident invalid.', { errors: prepared.problems.map((p) => ({ ...p, path: `/body${p.path}` })) })
        }
        return await replaceIncident(tx, caller.cityId, row.version, {
          id: row.id, draft: prepared.draft, ...personal.sealed(caller.cityId, row.id, prepared.draft.personal), ...caseFields
        })
      }
    })
    const [shown] = await withoutUnseenDuplicates(app.db, caller.cityId, caller.sources, [updated])
    return toIncident(shown as IncidentRow)
  })

  app.get('/:id/possible-duplicates', {
    schema: {
      operationId: 'listPossibleDuplicates',
      tags: ['incidents'],
      summary: 'Reports from other sources that may describe the same event',
      description: 'Within three days, sharing a bias motivation, and in the same place (neighbourhood, census tract, within about 2 km, or the same online platform). ' +
        'Mark one as a duplicate with PATCH status=duplicate; both are kept.',
      security: [{ bearer: ['incidents:read'] }],
      params: IdParams,
      response: { 200: Page(IncidentRef), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const row = await getIncident(app.db, caller.cityId, request.params.id, caller.sources)
    if (row === undefined) throw notFound('incident')
    const rows = await possibleDuplicates(app.db, caller.cityId, row, caller.sources, 50)
    return { data: (await withoutUnseenDuplicates(app.db, caller.cityId, caller.sources, rows)).map((r) => toIncident(r)), next_cursor: null }
  })

  app.delete('/:id/personal-data', {
    schema: {
      operationId: 'eraseIncidentPersonalData',
      tags: ['incidents'],
      summary: 'Erase an incident\'s personal data for good',
      description: 'Destroys the incident\'s data key and with it the narrative, the reporter, the address and exact coordinates. ' +
        'The de-identified record stays for statistics; a later import cannot bring the personal data back. Destructive, so it needs the ' +
        'personal-data steward\'s scope `incidents:read_personal` besides `incidents:write`; every erasure is audited.',
      security: [{ bearer: ['incidents:write', 'incidents:read_personal'] }],
      params: IdParams,
      response: { 204: NoContent('Erased (or already erased).'), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    if (!await personal.erase(app.db, request, incidents, request.params.id, sourceScope(callerOf(request).sources))) throw notFound('incident')
    return reply.code(204).send(null)
  })
}

function listPosition (order: string, position: unknown[]): ListPosition {
  if (order === 'updated_asc') return { order: 'updated_asc', ...feedPosition(position) }
  const { key, id } = textPosition(position)
  return { order: 'occurred_desc', occurredOn: key, id }
}

export default incidentsRoutes
