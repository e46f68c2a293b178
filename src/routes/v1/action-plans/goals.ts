import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { createOne } from '../../../lib/import-routes.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { notFound } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { GOAL, objectiveImports } from './imports.js'
import { toGoal, toGoalInput, toObjective } from './present.js'
import { getGoal, getObjective, replaceGoal, type GoalRow } from './repo.js'
import { prepareGoal } from './rules.js'
import { GoalPatchSchema, GoalSchema, ObjectiveInputSchema, ObjectiveSchema } from './schema.js'
import { IfMatch, invalid, READ, TAG, WRITE, registerNodeDelete } from './shared.js'

const goalsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const GoalRef = ref(GoalSchema)

  app.patch('/:id', {
    schema: {
      operationId: 'updateGoal',
      tags: [TAG],
      summary: 'Change a goal',
      description: 'Requires `If-Match` (the goal\'s ETag, from its creation or its last change). An external_id taken by another goal of the plan is a 409.',
      security: [{ bearer: [READ, WRITE] }],
      params: IdParams,
      headers: IfMatch,
      body: mergePatchBody(GoalPatchSchema),
      response: { 200: withEtag(GoalRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const updated = await updateVersioned<GoalRow>(app.db, request, reply, {
      what: GOAL,
      objectType: GOAL,
      action: () => `${GOAL}.updated`,
      read: async (tx) => await getGoal(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareGoal(row.planId, applyMergePatch(toGoalInput(row), request.body))
        if (prepared.draft === null) throw invalid(GOAL, prepared.problems)
        return await replaceGoal(tx, cityId, row.version, row.id, prepared.draft)
      },
      details: (row) => ({ plan_id: row.planId })
    })
    return toGoal(updated)
  })

  registerNodeDelete(app, {
    level: 'goal',
    operationId: 'deleteGoal',
    summary: 'Delete a goal',
    description: 'A goal that still has objectives is a 409 unless `cascade=true`, which deletes its objectives and their actions with it. ' +
        'Every deletion is audited, with what a cascade took along.',
    kind: GOAL,
    word: GOAL,
    read: getGoal
  })

  app.post('/:id/objectives', {
    schema: {
      operationId: 'createObjective',
      tags: [TAG],
      summary: 'Add a key objective under a goal',
      description: 'With `external_id` (unique in the plan), sending the same objective again updates it (200), and places it under this goal.',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(ObjectiveInputSchema),
      response: { 200: withEtag(ref(ObjectiveSchema)), 201: withEtag(ref(ObjectiveSchema)), ...problemResponses(...AUTHENTICATED, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const goal = await getGoal(app.db, caller.cityId, request.params.id)
    if (goal === undefined) throw notFound(GOAL)
    return await createOne(app, request, reply, objectiveImports(goal.planId, goal.id), {
      location: (id) => `/v1/objectives/${id}`,
      read: async (db, id) => await getObjective(db, caller.cityId, id),
      present: toObjective
    })
  })
}

export default goalsRoutes
