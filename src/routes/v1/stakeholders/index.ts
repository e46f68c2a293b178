import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { stakeholders } from '../../../db/schema/index.js'
import { BatchResult } from '../../../lib/batch.js'
import { today } from '../../../lib/dates.js'
import { etagOf } from '../../../lib/etag.js'
import { createOne, registerBatchRoute } from '../../../lib/import-routes.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { FEED_START, feedPageOf, feedPosition, pageOf, textPosition } from '../../../lib/pagination.js'
import { PersonalData } from '../../../lib/personal-data.js'
import { notFound, ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, NoContent, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { stakeholderImports } from './imports.js'
import { toStakeholder, toStakeholderInput } from './present.js'
import { deleteStakeholder, getStakeholder, listStakeholders, organizationProblems, replaceStakeholder, STAKEHOLDER_REFERENCES, type StakeholderPosition, type StakeholderRow } from './repo.js'
import { prepareStakeholder, type Contact } from './rules.js'
import { StakeholderInputSchema, StakeholderListQuery, StakeholderPatchSchema, StakeholderSchema, type StakeholderInput } from './schema.js'

const LIST = 'stakeholders'
const CONTACT_SCOPE = 'stakeholders:read_contact'

/** The answer of POST /v1/stakeholders/batch. */
const StakeholderBatchResult = BatchResult('StakeholderBatchResult')

const stakeholdersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(StakeholderSchema)
  app.addSchema(StakeholderInputSchema)
  app.addSchema(StakeholderBatchResult)
  const StakeholderRef = ref(StakeholderSchema)
  const contact = new PersonalData<Contact>(app.subkey('personal-data'), 'stakeholder', CONTACT_SCOPE)
  const imports = stakeholderImports(contact)

  app.post('', {
    schema: {
      operationId: 'createStakeholder',
      tags: ['stakeholders'],
      summary: 'Add a stakeholder',
      description: 'A person or an organisation of the city\'s prevention work. With `external_id`, sending it again updates it (200) instead of ' +
        'adding another. The answer carries no contact details.',
      security: [{ bearer: ['stakeholders:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(StakeholderInputSchema),
      response: { 200: withEtag(StakeholderRef), 201: withEtag(StakeholderRef), ...problemResponses(...AUTHENTICATED, 409, 415) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    return await createOne(app, request, reply, imports, {
      location: (id) => `/v1/stakeholders/${id}`,
      read: async (db, id) => await getStakeholder(db, caller.cityId, id),
      present: (row) => toStakeholder(row, today(caller.city.timezone))
    })
  })

  registerBatchRoute(app, {
    resource: imports,
    operationId: 'importStakeholders',
    tag: 'stakeholders',
    summary: 'Import up to 1,000 stakeholders (JSON array or NDJSON)',
    description: 'Upserts on external_id, as cities start from spreadsheets: running the same import twice adds nothing.',
    scope: 'stakeholders:write',
    item: StakeholderInputSchema,
    result: StakeholderBatchResult
  })

  app.get('', {
    schema: {
      operationId: 'listStakeholders',
      tags: ['stakeholders'],
      summary: 'List stakeholders',
      description: 'Filter by category, leg, engagement, leadership-group membership, tag, language, activity or changes since a time. ' +
        'With stakeholders:read_contact each stakeholder carries its contact details, so a coordinator can write to the leadership group; ' +
        'every such list is audited with the ids it revealed.',
      security: [{ bearer: ['stakeholders:read'] }],
      querystring: StakeholderListQuery,
      response: { 200: Page(StakeholderRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const order = filter.order ?? 'name'
    const list = `${LIST}:${order}`
    const day = today(caller.city.timezone)
    const after = cursor !== undefined ? positionOf(order, app.cursors.decode(caller.cityId, list, cursor)) : undefined
    const rows = await listStakeholders(app.db, caller.cityId, { ...filter, limit }, day, after)
    const encode = (position: unknown[]): string => app.cursors.encode(caller.cityId, list, position)
    const page = order === 'name'
      ? pageOf(rows, limit, (row) => [row.name, row.id], encode)
      : feedPageOf(rows, limit, (row) => [row.changeXid, row.id], encode, after?.order === 'updated_asc' ? [after.changeXid, after.id] : FEED_START)
    const shown = page.data.map((row) => ({ row, view: contact.view(request, caller, row) }))
    await contact.recordReads(app.db, request, shown)
    return { data: shown.map(({ row, view }) => toStakeholder(row, day, view)), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getStakeholder',
      tags: ['stakeholders'],
      summary: 'Read a stakeholder',
      description: 'With stakeholders:read_contact, also its contact details; every such read is audited.',
      security: [{ bearer: ['stakeholders:read'] }],
      params: IdParams,
      response: { 200: withEtag(StakeholderRef), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const row = await getStakeholder(app.db, caller.cityId, request.params.id)
    if (row === undefined) throw notFound('stakeholder')
    const view = contact.view(request, caller, row)
    await contact.recordReads(app.db, request, [{ row, view }])
    reply.header('etag', etagOf(row.id, row.version))
    return toStakeholder(row, today(caller.city.timezone), view)
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateStakeholder',
      tags: ['stakeholders'],
      summary: 'Change a stakeholder: engagement, leadership-group seat, category, contact, archive',
      description: 'Requires `If-Match`. Changes of engagement, leadership-group membership and activity are kept with their day, so that ' +
        'figures of a past period are computed from what was true then. `{"active": false}` archives a stakeholder that others refer to.',
      security: [{ bearer: ['stakeholders:read', 'stakeholders:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(StakeholderPatchSchema),
      response: { 200: withEtag(StakeholderRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 422, 428) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const patch = request.body
    const updated = await updateVersioned<StakeholderRow>(app.db, request, reply, {
      what: 'stakeholder',
      objectType: 'stakeholder',
      personalFields: ['contact'],
      action: () => 'stakeholder.updated',
      read: async (tx) => await getStakeholder(tx, caller.cityId, request.params.id),
      write: async (tx, row) => {
        if (row.personalDataErasedAt !== null && patch.contact != null) {
          throw new ProblemError('unprocessable', 'The contact details of this stakeholder were erased; they cannot be set again.')
        }
        // The change is applied to the whole record, contact details included, whatever the caller may read.
        const stored = contact.open(row)
        if (stored === 'unreadable') {
          throw new ProblemError('conflict', 'The contact details of this stakeholder fail their integrity check; erase them (DELETE /v1/stakeholders/{id}/contact) before changing the stakeholder.')
        }
        const prepared = prepareStakeholder(applyMergePatch(toStakeholderInput(row, stored), patch as StakeholderInput))
        const problems = prepared.draft === null ? prepared.problems : (await organizationProblems(tx, caller.cityId, [prepared.draft]))[0] ?? null
        if (prepared.draft === null || (problems !== null && problems.length > 0)) {
          throw new ProblemError('validation_failed', 'The change would leave the stakeholder invalid.', { errors: (problems ?? []).map((p) => ({ ...p, path: `/body${p.path}` })) })
        }
        if (prepared.draft.organizationId === row.id) throw new ProblemError('validation_failed', 'A stakeholder cannot belong to itself.', { errors: [{ path: '/body/organization_id', message: 'must name another stakeholder' }] })
        return await replaceStakeholder(tx, caller.cityId, row.version, {
          id: row.id, draft: prepared.draft, ...contact.sealed(caller.cityId, row.id, row.personalDataErasedAt !== null ? null : prepared.draft.contact)
        })
      }
    })
    return toStakeholder(updated, today(caller.city.timezone))
  })

  registerDeleteRoute(app, {
    operationId: 'deleteStakeholder',
    tag: 'stakeholders',
    kind: 'stakeholder',
    summary: 'Delete a stakeholder nothing refers to',
    description: 'A stakeholder that relationships, meetings, programs, referrals or members refer to cannot be deleted (409 naming them): ' +
      'archive it with PATCH {"active": false}.',
    scope: 'stakeholders:write',
    readScope: 'stakeholders:read',
    references: STAKEHOLDER_REFERENCES,
    remove: deleteStakeholder
  })

  app.delete('/:id/contact', {
    schema: {
      operationId: 'eraseStakeholderContact',
      tags: ['stakeholders'],
      summary: 'Erase a stakeholder\'s contact details for good',
      description: 'Destroys the stakeholder\'s data key and with it the contact details; the stakeholder stays. Needs stakeholders:read_contact ' +
        'besides stakeholders:write; every erasure is audited, and a later import cannot bring the details back.',
      security: [{ bearer: ['stakeholders:write', CONTACT_SCOPE] }],
      params: IdParams,
      response: { 204: NoContent('Erased (or already erased).'), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    if (!await contact.erase(app.db, request, stakeholders, request.params.id)) throw notFound('stakeholder')
    return reply.code(204).send(null)
  })
}

function positionOf (order: string, position: unknown[]): StakeholderPosition {
  if (order === 'updated_asc') return { order: 'updated_asc', ...feedPosition(position) }
  const { key, id } = textPosition(position)
  return { order: 'name', name: key, id }
}

export default stakeholdersRoutes
