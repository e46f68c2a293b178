import type { Importable, Naming } from '../../../lib/batch.js'
import { toActionInput, toGoalInput, toObjectiveInput, toPlanInput } from './present.js'
import {
  ACTION_WRITES, actionReferenceProblems, findActions, findGoals, findObjectives, findPlans, GOAL_WRITES, OBJECTIVE_WRITES, PLAN_WRITES,
  plansWithOtherMoney, type ActionRow, type GoalRow, type ObjectiveRow, type PlanRow
} from './repo.js'
import { prepareAction, prepareGoal, prepareObjective, preparePlan, type ActionDraft, type GoalDraft, type ObjectiveDraft, type PlanDraft } from './rules.js'
import { ActionItemSchema, GoalItemSchema, ObjectiveItemSchema, PlanInputSchema, type ActionItem, type GoalItem, type ObjectiveItem, type PlanInput } from './schema.js'

/** What an action names of other kinds: owners, partners and programs (stakeholders:read reads them), KPIs. */
export const ACTION_NAMES: readonly Naming[] = [
  { scope: 'stakeholders:read', fields: ['owner_id', 'partner_ids', 'owner_external_id', 'partner_external_ids', 'program_ids'] },
  { scope: 'kpis:read', fields: ['kpi_ids'] }
]

/** The audit's object types, and the prefixes of their actions. */
export const PLAN = 'action_plan'
export const GOAL = 'goal'
export const OBJECTIVE = 'objective'
export const ACTION = 'action'

const keyed = {
  readScope: 'plans:read',
  keyOf: (body: { external_id?: string }) => body.external_id ?? null,
  keyOfRow: (row: { externalId: string | null }) => row.externalId ?? '',
  externalIdOf: (body: { external_id?: string }) => body.external_id ?? null
}

/** Plans as the batch module writes them: keyed on external_id in the city; one currency, kept while actions hold amounts. */
export function planImports (): Importable<PlanInput, PlanRow, PlanDraft, never> {
  return {
    kind: PLAN,
    schema: PlanInputSchema,
    ...keyed,
    find: async (db, cityId, bodies) => await findPlans(db, cityId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toPlanInput(row),
    prepare: (input) => preparePlan(input),
    references: async (db, cityId, drafts) => {
      const refused = await plansWithOtherMoney(db, cityId, drafts.map((d) => ({ externalId: d.externalId, currency: d.currency })))
      return drafts.map((d) => d.externalId !== null && refused.has(d.externalId) ? [{ path: '/currency', message: 'differs from the currency the plan\'s actions hold amounts in' }] : null)
    },
    table: PLAN_WRITES
  }
}

/** The goals of one plan, keyed on external_id in the plan. */
export function goalImports (planId: string): Importable<GoalItem, GoalRow, GoalDraft, never> {
  return {
    kind: GOAL,
    schema: GoalItemSchema,
    ...keyed,
    find: async (db, cityId, bodies) => await findGoals(db, cityId, planId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toGoalInput(row),
    prepare: (input) => prepareGoal(planId, input),
    table: GOAL_WRITES,
    auditDetails: () => ({ plan_id: planId })
  }
}

/** The objectives of one plan, keyed on external_id in the plan; under `goalId` when a route names it, else under the item's goal_id. */
export function objectiveImports (planId: string, goalId?: string): Importable<ObjectiveItem, ObjectiveRow, ObjectiveDraft, never> {
  return {
    kind: OBJECTIVE,
    schema: ObjectiveItemSchema,
    ...keyed,
    find: async (db, cityId, bodies) => await findObjectives(db, cityId, planId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toObjectiveInput(row),
    prepare: (input) => prepareObjective(planId, goalId, input),
    table: OBJECTIVE_WRITES,
    auditDetails: (row) => ({ plan_id: planId, goal_id: row.draft.goalId })
  }
}

/**
 * The actions of one plan, keyed on external_id in the plan; under `objectiveId` when a route names it, else
 * under the item's objective_id. Owners, partners, programs and currencies are checked for the whole request
 * in two queries.
 */
export function actionImports (planId: string, currency: string, objectiveId?: string): Importable<ActionItem, ActionRow, ActionDraft, never> {
  return {
    kind: ACTION,
    schema: ActionItemSchema,
    ...keyed,
    names: ACTION_NAMES,
    find: async (db, cityId, bodies) => await findActions(db, cityId, planId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toActionInput(row),
    prepare: (input) => prepareAction(planId, currency, objectiveId, input),
    references: async (db, cityId, drafts) => await actionReferenceProblems(db, cityId, currency, drafts),
    table: ACTION_WRITES,
    auditDetails: (row) => ({ plan_id: planId, objective_id: row.draft.objectiveId, owner_id: row.draft.ownerId })
  }
}
