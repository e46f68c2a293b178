import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { actorOf, recordAudit } from '../../../lib/audit.js'
import { today } from '../../../lib/dates.js'
import { etagOf, expectedVersion, stale } from '../../../lib/etag.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { notFound, ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, NoContent, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { refuseNaming } from '../../../lib/batch.js'
import { ACTION, ACTION_NAMES } from './imports.js'
import { toAction, toActionDetail, toActionInput } from './present.js'
import { actionReferenceProblems, deleteNode, getAction, getObjective, listActions, recordProgress, replaceAction, timelineOf, type ActionWithPlan } from './repo.js'
import { prepareAction } from './rules.js'
import { ActionDetailSchema, ActionListQuery, ActionPatchSchema, ActionSchema, ActionUpdateInputSchema } from './schema.js'
import { IfMatch, invalid, READ, TAG, unprocessable, WRITE } from './shared.js'

const LIST = 'actions'

const actionsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const DetailRef = ref(ActionDetailSchema)

  app.get('', {
    schema: {
      operationId: 'listActions',
      tags: [TAG],
      summary: 'List actions across plans',
      description: 'In creation order. Filter by plan, status, owner (a stakeholder), horizon, `due_before` a day, `overdue` (due before ' +
        'today in the city\'s timezone and neither completed nor cancelled) or changes since a time.',
      security: [{ bearer: [READ] }],
      querystring: ActionListQuery,
      response: { 200: Page(ref(ActionSchema)), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const day = today(caller.city.timezone)
    const after = cursor !== undefined ? uuidPosition(app.cursors.decode(caller.cityId, LIST, cursor)) : undefined
    const rows = await listActions(app.db, caller.cityId, { ...filter, limit }, day, after)
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(caller.cityId, LIST, position))
    return { data: page.data.map((row) => toAction(row, day)), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getAction',
      tags: [TAG],
      summary: 'Read an action with its timeline',
      description: 'The timeline lists its progress notes, oldest first. Answers an `ETag` for `PATCH`.',
      security: [{ bearer: [READ] }],
      params: IdParams,
      response: { 200: withEtag(DetailRef), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const row = await getAction(app.db, caller.cityId, request.params.id)
    if (row === undefined) throw notFound(ACTION)
    const timeline = await timelineOf(app.db, caller.cityId, row.id)
    reply.header('etag', etagOf(row.id, row.version))
    return toActionDetail(row, timeline, today(caller.city.timezone))
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateAction',
      tags: [TAG],
      summary: 'Change an action: owner, partners, dates, budget, funding, or move it',
      description: 'Requires `If-Match`. Owner and partners must be stakeholders of the city, programs programs of its directory, amounts in ' +
        'the plan\'s currency, and `objective_id` an objective of the same plan: a 422 names each item that is not. Progress is better ' +
        'recorded with a dated note (`POST /v1/actions/{id}/updates`), which keeps the timeline.',
      security: [{ bearer: [READ, WRITE] }],
      params: IdParams,
      headers: IfMatch,
      body: mergePatchBody(ActionPatchSchema),
      response: { 200: withEtag(DetailRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { cityId } = caller
    refuseNaming(caller, ACTION_NAMES, request.body)
    const updated = await updateVersioned<ActionWithPlan>(app.db, request, reply, {
      what: ACTION,
      objectType: ACTION,
      action: () => `${ACTION}.updated`,
      read: async (tx) => await getAction(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareAction(row.planId, row.planCurrency, undefined, applyMergePatch(toActionInput(row), request.body))
        if (prepared.draft === null) throw invalid(ACTION, prepared.problems)
        const [problems] = await actionReferenceProblems(tx, cityId, row.planCurrency, [prepared.draft])
        const all = [...problems ?? []]
        if (prepared.draft.objectiveId !== row.objectiveId) {
          const objective = await getObjective(tx, cityId, prepared.draft.objectiveId)
          if (objective?.planId !== row.planId) all.push({ path: '/objective_id', message: 'is not an objective of this action\'s plan' })
        }
        if (all.length > 0) throw unprocessable(all)
        const written = await replaceAction(tx, cityId, row.version, row.id, prepared.draft)
        return written === undefined ? undefined : { ...written, planCurrency: row.planCurrency }
      },
      details: (row, written) => ({ plan_id: row.planId, objective_id: written.objectiveId, owner_id: written.ownerId })
    })
    return toActionDetail(updated, await timelineOf(app.db, cityId, updated.id), today(caller.city.timezone))
  })

  app.delete('/:id', {
    schema: {
      operationId: 'deleteAction',
      tags: [TAG],
      summary: 'Delete an action',
      description: 'Its timeline goes with it. An action that was dropped is better kept with status `cancelled`: roll-ups leave it out. ' +
        'Every deletion is audited.',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      response: { 204: NoContent('Deleted.'), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const id = request.params.id
    await app.db.transaction(async (tx) => {
      const action = await getAction(tx, cityId, id)
      if (action === undefined || !await deleteNode(tx, cityId, 'actions', id)) throw notFound(ACTION)
      await recordAudit(tx, cityId, actorOf(request), { action: `${ACTION}.deleted`, objectType: ACTION, objectId: id, details: { plan_id: action.planId } })
    })
    return await reply.code(204).send(null)
  })

  app.post('/:id/updates', {
    schema: {
      operationId: 'recordActionProgress',
      tags: [TAG],
      summary: 'Record a dated progress note on an action',
      description: 'Appends a note (day, status, progress, text) to the action\'s timeline and sets the action\'s status and progress: ' +
        'the action gets a new version and ETag. `If-Match` is optional here: with it, a stale ETag is a 412. Answers the action with ' +
        'its timeline.',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      headers: Type.Object({
        'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read; optional.' })),
        'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader))
      }),
      body: ref(ActionUpdateInputSchema),
      response: { 201: withEtag(DetailRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { cityId } = caller
    const note = request.body
    const day = today(caller.city.timezone)
    if (note.recorded_on !== undefined && note.recorded_on > day) {
      const problem = { path: '/body/recorded_on', message: `is after today (${day}) in the city's timezone` }
      throw new ProblemError('validation_failed', `${problem.path} ${problem.message}`, { errors: [problem] })
    }
    let payload = ''
    await app.db.transaction(async (tx) => {
      const action = await getAction(tx, cityId, request.params.id)
      if (action === undefined) throw notFound(ACTION)
      if (request.headers['if-match'] !== undefined) {
        const version = expectedVersion(request, action.id)
        if (version !== '*' && version !== action.version) throw stale()
      }
      const progress = note.progress ?? (note.status === 'completed' ? 100 : action.progress)
      const updated = await recordProgress(tx, cityId, action, { recordedOn: note.recorded_on ?? day, status: note.status, progress, text: note.text ?? null })
      // Changed since it was read in this transaction: a 412 for a caller that named the version, else a retry.
      if (updated === undefined) throw request.headers['if-match'] !== undefined ? stale() : new ProblemError('conflict', 'The action was being changed concurrently; send the note again.', { retryable: true })
      await recordAudit(tx, cityId, actorOf(request), {
        action: `${ACTION}.progress_recorded`, objectType: ACTION, objectId: action.id, details: { plan_id: action.planId, status: note.status, progress }
      })
      reply.code(201).header('location', `/v1/actions/${action.id}`).header('etag', etagOf(updated.id, updated.version))
      payload = await reply.answerWithin(tx, toActionDetail(updated, await timelineOf(tx, cityId, action.id), day))
    })
    return await reply.send(payload as never)
  })
}

export default actionsRoutes
