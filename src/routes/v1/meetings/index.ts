import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Executor } from '../../../db/client.js'
import { actorOf, recordAudit } from '../../../lib/audit.js'
import { contentHashOf } from '../../../lib/batch.js'
import { etagOf } from '../../../lib/etag.js'
import { newId } from '../../../lib/ids.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { pageOf } from '../../../lib/pagination.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute, registerReadRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { toInput, toMeeting } from './present.js'
import { refuseNaming } from '../../../lib/batch.js'
import { refuseKeyWithoutRead } from '../../../lib/import-routes.js'
import { deleteMeeting, getMeeting, insertMeeting, listMeetings, meetingIdByExternalId, replaceAttendees, unknownStakeholders, updateMeeting, type MeetingPosition, type MeetingRow } from './repo.js'
import { dayProblem, prepareMeeting } from './rules.js'
import { MeetingInputSchema, MeetingListQuery, MeetingPatchSchema, MeetingSchema, type MeetingInput } from './schema.js'

const TAG = 'meetings'
const KIND = 'meeting'
const LIST = 'meetings'

const inBody = (problems: FieldError[]): FieldError[] => problems.map((p) => ({ ...p, path: `/body${p.path}` }))
const invalid = (problems: FieldError[], detail: string): ProblemError => new ProblemError('validation_failed', detail, { errors: problems })

/** Refuses attendees that are no stakeholder of the city, naming each by its place in the list: one query for all. */
async function refuseUnknownAttendees (db: Executor, cityId: string, ids: string[]): Promise<void> {
  const unknown = await unknownStakeholders(db, cityId, ids)
  if (unknown.length === 0) return
  throw new ProblemError('unprocessable', `${unknown.length === 1 ? 'An attendee is' : `${unknown.length} attendees are`} no stakeholder of this city.`, {
    errors: unknown.slice(0, 100).map((i) => ({ path: `/body/attendee_ids/${i}`, message: 'is not a stakeholder of this city' }))
  })
}

const meetingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(MeetingSchema)
  app.addSchema(MeetingInputSchema)
  const MeetingRef = ref(MeetingSchema)
  const hashKey = app.subkey(`${KIND}-content`)

  app.post('', {
    schema: {
      operationId: 'createMeeting',
      tags: [TAG],
      summary: 'Record a meeting and who came',
      description: 'Every attendee must be a stakeholder of the city; those that are not are a 422 naming each. An `external_id` already ' +
        'used by another meeting of the city is a 409 naming that meeting: change it with PATCH. Sending an `external_id` needs stakeholders:read.',
      security: [{ bearer: ['stakeholders:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(MeetingInputSchema),
      response: { 201: withEtag(MeetingRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { cityId, keyId } = caller
    const body = request.body as MeetingInput
    refuseKeyWithoutRead(caller, body.external_id, KIND, 'stakeholders:read')
    refuseNaming(caller, [{ scope: 'stakeholders:read', fields: ['attendee_ids'] }], body)
    const prepared = prepareMeeting(body)
    if (prepared.draft === null) throw invalid(inBody(prepared.problems), 'The meeting is not valid; errors lists each failing path.')
    const draft = prepared.draft
    // The meeting, its attendees, its audit event and the answer a retry replays commit together.
    const payload = await app.db.transaction(async (tx) => {
      await refuseUnknownAttendees(tx, cityId, body.attendee_ids ?? [])
      const id = newId()
      const row = await insertMeeting(tx, cityId, { id, draft, contentHash: contentHashOf(body, hashKey, keyId) })
      if (row === undefined) {
        const holder = await meetingIdByExternalId(tx, cityId, draft.externalId as string)
        throw new ProblemError('conflict', 'Another meeting of this city has this external_id; change that one with PATCH.', {
          errors: [{ path: '/body/external_id', message: `is already used by meeting ${holder ?? ''}`.trim() }]
        })
      }
      await replaceAttendees(tx, cityId, id, draft.attendeeIds)
      await recordAudit(tx, cityId, actorOf(request), { action: `${KIND}.created`, objectType: KIND, objectId: id, details: { kind: draft.kind, attendees: draft.attendeeIds.length } })
      reply.code(201).header('location', `/v1/meetings/${id}`).header('etag', etagOf(id, row.version))
      return await reply.answerWithin(tx, toMeeting({ ...row, attendeeIds: draft.attendeeIds }))
    })
    // The answer is JSON text already.
    return await reply.send(payload as never)
  })

  app.get('', {
    schema: {
      operationId: 'listMeetings',
      tags: [TAG],
      summary: 'List meetings, newest first',
      description: 'Filter by the days they were held, their kind, or a stakeholder who attended. Each meeting lists its attendees.',
      security: [{ bearer: ['stakeholders:read'] }],
      querystring: MeetingListQuery,
      response: { 200: Page(MeetingRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId } = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const tooEarly = [dayProblem('/query/held_from', filter.held_from), dayProblem('/query/held_to', filter.held_to)].filter((p) => p !== null)
    if (tooEarly.length > 0) throw invalid(tooEarly, tooEarly.map((p) => `${p.path} ${p.message}`).join('; '))
    const after = cursor !== undefined ? listPosition(app.cursors.decode(cityId, LIST, cursor)) : undefined
    const rows = await listMeetings(app.db, cityId, { ...filter, limit }, after)
    const page = pageOf(rows, limit, (row) => [row.heldOn, row.id], (position) => app.cursors.encode(cityId, LIST, position))
    return { data: page.data.map(toMeeting), next_cursor: page.next_cursor }
  })

  registerReadRoute(app, {
    operationId: 'getMeeting',
    tag: TAG,
    kind: KIND,
    summary: 'Read a meeting and who came',
    description: 'Answers an `ETag` for `PATCH`.',
    scope: 'stakeholders:read',
    response: MeetingRef,
    read: getMeeting,
    present: toMeeting
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateMeeting',
      tags: [TAG],
      summary: 'Change a meeting or who came',
      description: 'Requires `If-Match`. `attendee_ids` replaces the whole set of attendees; attendees that are no stakeholder of the city ' +
        'are a 422 naming each.',
      security: [{ bearer: ['stakeholders:read', 'stakeholders:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(MeetingPatchSchema),
      response: { 200: withEtag(MeetingRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const patch = request.body
    const updated = await updateVersioned<MeetingRow>(app.db, request, reply, {
      what: KIND,
      objectType: KIND,
      action: () => `${KIND}.updated`,
      details: (row, written) => patch.attendee_ids === undefined
        ? {}
        : {
            attendees_added: written.attendeeIds.filter((id) => !row.attendeeIds.includes(id)).length,
            attendees_removed: row.attendeeIds.filter((id) => !written.attendeeIds.includes(id)).length
          },
      read: async (tx) => await getMeeting(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareMeeting(applyMergePatch(toInput(row), patch))
        if (prepared.draft === null) throw invalid(inBody(prepared.problems), 'The change would leave the meeting invalid.')
        const draft = prepared.draft
        if (patch.attendee_ids !== undefined) await refuseUnknownAttendees(tx, cityId, patch.attendee_ids)
        const written = await updateMeeting(tx, cityId, row.version, row.id, draft)
        if (written === undefined) return undefined
        if (patch.attendee_ids !== undefined) await replaceAttendees(tx, cityId, row.id, draft.attendeeIds)
        return { ...written, attendeeIds: draft.attendeeIds }
      }
    })
    return toMeeting(updated)
  })

  registerDeleteRoute(app, {
    operationId: 'deleteMeeting',
    tag: TAG,
    kind: KIND,
    summary: 'Delete a meeting',
    description: 'Removes a meeting recorded by mistake, and its attendance with it. Every deletion is audited.',
    scope: 'stakeholders:write',
    readScope: 'stakeholders:read',
    remove: deleteMeeting
  })
}

function listPosition (position: unknown[]): MeetingPosition {
  const [heldOn, id] = position
  if (position.length === 2 && typeof heldOn === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(heldOn) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) {
    return { heldOn, id }
  }
  throw new ProblemError('invalid_cursor', 'The cursor is not one this list issued.')
}

export default meetingsRoutes
