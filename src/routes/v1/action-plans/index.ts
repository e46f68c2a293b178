import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import actionsRoutes from './actions.js'
import goalsRoutes from './goals.js'
import objectivesRoutes from './objectives.js'
import plansRoutes from './plans.js'
import {
  ActionDetailSchema, ActionInputSchema, ActionSchema, ActionUpdateInputSchema, ActionUpdateSchema, GoalInputSchema, GoalSchema, ObjectiveInputSchema,
  ObjectiveSchema, PlanImportResultSchema, PlanImportSchema, PlanInputSchema, PlanSchema, PlanTreeSchema, RollupSchema
} from './schema.js'

/**
 * The prevention plan: `/action-plans`, `/goals`, `/objectives` and `/actions`, one plugin each, sharing the
 * schemas registered here once.
 */
const actionPlanRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const schema of [PlanSchema, PlanInputSchema, RollupSchema, GoalSchema, GoalInputSchema, ObjectiveSchema, ObjectiveInputSchema, ActionSchema,
    ActionInputSchema, ActionUpdateSchema, ActionDetailSchema, ActionUpdateInputSchema, PlanTreeSchema, PlanImportSchema, PlanImportResultSchema]) app.addSchema(schema)
  await app.register(plansRoutes, { prefix: '/action-plans' })
  await app.register(goalsRoutes, { prefix: '/goals' })
  await app.register(objectivesRoutes, { prefix: '/objectives' })
  await app.register(actionsRoutes, { prefix: '/actions' })
}

export default actionPlanRoutes
