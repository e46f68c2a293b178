import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { today } from '../../../lib/dates.js'
import { createOne } from '../../../lib/import-routes.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { notFound } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { actionImports, OBJECTIVE } from './imports.js'
import { toAction, toObjective, toObjectiveInput } from './present.js'
import { getAction, getGoal, getObjective, getPlan, replaceObjective, type ObjectiveRow } from './repo.js'
import { prepareObjective } from './rules.js'
import { ActionInputSchema, ActionSchema, ObjectivePatchSchema, ObjectiveSchema } from './schema.js'
import { IfMatch, invalid, READ, TAG, unprocessable, WRITE, registerNodeDelete } from './shared.js'

const objectivesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ObjectiveRef = ref(ObjectiveSchema)

  app.patch('/:id', {
    schema: {
      operationId: 'updateObjective',
      tags: [TAG],
      summary: 'Change a key objective, or move it under another goal',
      description: 'Requires `If-Match`. `goal_id` must be a goal of the same plan (422 otherwise); the objective\'s actions move with it.',
      security: [{ bearer: [READ, WRITE] }],
      params: IdParams,
      headers: IfMatch,
      body: mergePatchBody(ObjectivePatchSchema),
      response: { 200: withEtag(ObjectiveRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const patch = request.body
    const updated = await updateVersioned<ObjectiveRow>(app.db, request, reply, {
      what: OBJECTIVE,
      objectType: OBJECTIVE,
      action: (row) => patch.goal_id !== undefined && patch.goal_id.toLowerCase() !== row.goalId ? `${OBJECTIVE}.moved` : `${OBJECTIVE}.updated`,
      read: async (tx) => await getObjective(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareObjective(row.planId, undefined, applyMergePatch(toObjectiveInput(row), patch))
        if (prepared.draft === null) throw invalid(OBJECTIVE, prepared.problems)
        if (prepared.draft.goalId !== row.goalId) {
          const goal = await getGoal(tx, cityId, prepared.draft.goalId)
          if (goal?.planId !== row.planId) throw unprocessable([{ path: '/goal_id', message: 'is not a goal of this objective\'s plan' }])
        }
        return await replaceObjective(tx, cityId, row.version, row.id, prepared.draft)
      },
      details: (row, written) => ({ plan_id: row.planId, goal_id: written.goalId })
    })
    return toObjective(updated)
  })

  registerNodeDelete(app, {
    level: 'objective',
    operationId: 'deleteObjective',
    summary: 'Delete a key objective',
    description: 'An objective that still has actions is a 409 unless `cascade=true`, which deletes its actions (and their timelines) with it.',
    kind: OBJECTIVE,
    word: OBJECTIVE,
    read: getObjective
  })

  app.post('/:id/actions', {
    schema: {
      operationId: 'createAction',
      tags: [TAG],
      summary: 'Add an action under a key objective',
      description: 'Owner and partners must be stakeholders of the city and programs programs of its directory; budget and funding lines ' +
        'are in the plan\'s currency (omitted: the plan\'s). A 422 names each item that is not. With `external_id` (unique in the plan), ' +
        'sending the same action again updates it (200).',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(ActionInputSchema),
      response: { 200: withEtag(ref(ActionSchema)), 201: withEtag(ref(ActionSchema)), ...problemResponses(...AUTHENTICATED, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const objective = await getObjective(app.db, caller.cityId, request.params.id)
    if (objective === undefined) throw notFound(OBJECTIVE)
    const plan = await getPlan(app.db, caller.cityId, objective.planId)
    if (plan === undefined) throw notFound(OBJECTIVE)
    const day = today(caller.city.timezone)
    return await createOne(app, request, reply, actionImports(plan.id, plan.currency, objective.id), {
      location: (id) => `/v1/actions/${id}`,
      read: async (db, id) => await getAction(db, caller.cityId, id),
      present: (row) => toAction(row, day)
    })
  })
}

export default objectivesRoutes
