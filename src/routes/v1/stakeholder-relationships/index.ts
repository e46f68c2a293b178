import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { BatchResult } from '../../../lib/batch.js'
import { today } from '../../../lib/dates.js'
import { createOne, registerBatchRoute } from '../../../lib/import-routes.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { FEED_START, feedPageOf, feedPosition, pageOf, uuidPosition } from '../../../lib/pagination.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute, registerReadRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { KIND, relationshipImports } from './imports.js'
import { toInput, toRelationship } from './present.js'
import { deleteRelationship, getRelationship, listRelationships, replaceRelationship, resolveEnds, type RelationshipPosition, type RelationshipRow } from './repo.js'
import { dayProblem, prepareRelationship } from './rules.js'
import { RelationshipInputSchema, RelationshipListQuery, RelationshipPatchSchema, RelationshipSchema } from './schema.js'

const TAG = 'stakeholder-relationships'
const WHAT = 'stakeholder relationship'
const LIST = 'stakeholder-relationships'
const RelationshipBatchResult = BatchResult('StakeholderRelationshipBatchResult')

const inBody = (problems: FieldError[]): FieldError[] => problems.map((p) => ({ ...p, path: `/body${p.path}` }))
const unknownEnds = (problems: FieldError[]): ProblemError =>
  new ProblemError('unprocessable', 'The relationship names no stakeholder of this city at an end, or the same one at both.', { errors: inBody(problems) })

const relationshipsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(RelationshipSchema)
  app.addSchema(RelationshipInputSchema)
  app.addSchema(RelationshipBatchResult)
  const RelationshipRef = ref(RelationshipSchema)
  const imports = relationshipImports()

  app.post('', {
    schema: {
      operationId: 'createStakeholderRelationship',
      tags: [TAG],
      summary: 'Record a tie between two stakeholders',
      description: 'Both ends must be stakeholders of the city (named by id or by their external_id); an end that is not is a 422 naming it. ' +
        'With `external_id`, sending the same relationship again updates it (200) instead of creating another.',
      security: [{ bearer: ['stakeholders:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(RelationshipInputSchema),
      response: { 200: withEtag(RelationshipRef), 201: withEtag(RelationshipRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    return await createOne(app, request, reply, imports, {
      location: (id) => `/v1/stakeholder-relationships/${id}`,
      read: async (db, id) => await getRelationship(db, caller.cityId, id),
      present: toRelationship
    })
  })

  registerBatchRoute(app, {
    resource: imports,
    operationId: 'importStakeholderRelationships',
    tag: TAG,
    summary: 'Import up to 1,000 relationships (JSON array or NDJSON)',
    description: 'Upserts on external_id: running the same import twice creates nothing new. A spreadsheet names the ends by the stakeholders\' ' +
      'external_id (`from_external_id`, `to_external_id`); an end that names no stakeholder of the city rejects that item, with its path.',
    scope: 'stakeholders:write',
    item: RelationshipInputSchema,
    result: RelationshipBatchResult
  })

  app.get('', {
    schema: {
      operationId: 'listStakeholderRelationships',
      tags: [TAG],
      summary: 'List relationships',
      description: 'Filter by a stakeholder at either end, type, whether the tie is still active, or changes since a time.',
      security: [{ bearer: ['stakeholders:read'] }],
      querystring: RelationshipListQuery,
      response: { 200: Page(RelationshipRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const tooEarly = dayProblem('/query/updated_since', filter.updated_since?.slice(0, 10))
    if (tooEarly !== null) throw new ProblemError('validation_failed', `${tooEarly.path} ${tooEarly.message}`, { errors: [tooEarly] })
    const order = filter.order ?? 'created_desc'
    const list = `${LIST}:${order}`
    const after = cursor !== undefined ? listPosition(order, app.cursors.decode(caller.cityId, list, cursor)) : undefined
    const rows = await listRelationships(app.db, caller.cityId, { ...filter, limit }, today(caller.city.timezone), after)
    const encode = (position: unknown[]): string => app.cursors.encode(caller.cityId, list, position)
    const page = order === 'created_desc'
      ? pageOf(rows, limit, (row) => [row.id], encode)
      : feedPageOf(rows, limit, (row) => [row.changeXid, row.id], encode, after?.order === 'updated_asc' ? [after.changeXid, after.id] : FEED_START)
    return { data: page.data.map(toRelationship), next_cursor: page.next_cursor }
  })

  registerReadRoute(app, {
    operationId: 'getStakeholderRelationship',
    tag: TAG,
    kind: KIND,
    what: WHAT,
    summary: 'Read a relationship',
    description: 'Answers an `ETag` for `PATCH`.',
    scope: 'stakeholders:read',
    response: RelationshipRef,
    read: getRelationship,
    present: toRelationship
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateStakeholderRelationship',
      tags: [TAG],
      summary: 'Change a relationship: its ends, type, strength, period or notes',
      description: 'Requires `If-Match`. End a tie by setting `until`: it stays on record and no longer counts as active. ' +
        'An end that is not a stakeholder of the city is a 422 naming it.',
      security: [{ bearer: ['stakeholders:read', 'stakeholders:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(RelationshipPatchSchema),
      response: { 200: withEtag(RelationshipRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const updated = await updateVersioned<RelationshipRow>(app.db, request, reply, {
      what: WHAT,
      objectType: KIND,
      action: () => `${KIND}.updated`,
      read: async (tx) => await getRelationship(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareRelationship(applyMergePatch(toInput(row), request.body))
        if (prepared.draft === null) {
          throw new ProblemError('validation_failed', 'The change would leave the relationship invalid.', { errors: inBody(prepared.problems) })
        }
        const [problems] = await resolveEnds(tx, cityId, [prepared.draft])
        if (problems != null) throw unknownEnds(problems)
        return await replaceRelationship(tx, cityId, row.version, row.id, prepared.draft)
      }
    })
    return toRelationship(updated)
  })

  registerDeleteRoute(app, {
    operationId: 'deleteStakeholderRelationship',
    tag: TAG,
    kind: KIND,
    what: WHAT,
    summary: 'Delete a relationship',
    description: 'Removes a tie recorded by mistake; nothing refers to relationships. A tie that ended is better kept with an `until`. ' +
      'Every deletion is audited.',
    scope: 'stakeholders:write',
    readScope: 'stakeholders:read',
    remove: async (tx, cityId, id) => {
      const deleted = await deleteRelationship(tx, cityId, id)
      return deleted === undefined ? false : { from_id: deleted.fromId, to_id: deleted.toId, type: deleted.type }
    }
  })
}

function listPosition (order: string, position: unknown[]): RelationshipPosition {
  return order === 'updated_asc' ? { order: 'updated_asc', ...feedPosition(position) } : { order: 'created_desc', id: uuidPosition(position) }
}

export default relationshipsRoutes
