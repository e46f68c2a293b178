import { ACTION_STATUSES } from '../../../db/schema/index.js'
import type { ActionRow, ActionUpdateRow, GoalRow, ObjectiveRow, PlanRow, RollupRow, Tree } from './repo.js'
import { isOverdue } from './rules.js'
import type { Action, ActionDetail, ActionItem, FundingLine, Goal, GoalItem, Objective, ObjectiveItem, Plan, PlanInput, RollupFigures } from './schema.js'

const iso = (d: Date): string => d.toISOString()

export function toPlan (row: PlanRow): Plan {
  return {
    id: row.id,
    external_id: row.externalId,
    title: row.title,
    vision: row.vision,
    period_start: row.periodStart,
    period_end: row.periodEnd,
    status: row.status as Plan['status'],
    adopted_on: row.adoptedOn,
    currency: row.currency,
    version: row.version,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt)
  }
}

/** A stored record as the input that would produce it, so that an import or a PATCH can be merged into it. */
export function toPlanInput (row: PlanRow): PlanInput {
  const input: PlanInput = { title: row.title, status: row.status as PlanInput['status'] & string, currency: row.currency }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.vision !== null) input.vision = row.vision
  if (row.periodStart !== null) input.period_start = row.periodStart
  if (row.periodEnd !== null) input.period_end = row.periodEnd
  if (row.adoptedOn !== null) input.adopted_on = row.adoptedOn
  return input
}

export function toGoal (row: GoalRow): Goal {
  return {
    id: row.id,
    plan_id: row.planId,
    external_id: row.externalId,
    position: row.position,
    title: row.title,
    description: row.description,
    version: row.version,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt)
  }
}

export function toGoalInput (row: GoalRow): GoalItem {
  const input: GoalItem = { title: row.title }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.position !== null) input.position = row.position
  if (row.description !== null) input.description = row.description
  return input
}

export function toObjective (row: ObjectiveRow): Objective {
  return { ...toGoal(row), goal_id: row.goalId }
}

export function toObjectiveInput (row: ObjectiveRow): ObjectiveItem {
  return { ...toGoalInput(row), goal_id: row.goalId }
}

const fundingOf = (row: ActionRow): FundingLine[] => (row.funding as FundingLine[] | null) ?? []

export function toAction (row: ActionRow, today: string): Action {
  return {
    id: row.id,
    plan_id: row.planId,
    objective_id: row.objectiveId,
    external_id: row.externalId,
    position: row.position,
    title: row.title,
    description: row.description,
    owner_id: row.ownerId,
    partner_ids: row.partnerIds,
    program_ids: row.programIds,
    kpi_ids: row.kpiIds,
    horizon: row.horizon as Action['horizon'],
    start_on: row.startOn,
    due_on: row.dueOn,
    status: row.status as Action['status'],
    progress: row.progress,
    overdue: isOverdue(row.dueOn, row.status, today),
    budget: row.budgetAmount === null ? null : { amount: row.budgetAmount, currency: row.budgetCurrency as string },
    funding: fundingOf(row),
    version: row.version,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt)
  }
}

export function toActionDetail (row: ActionRow, timeline: ActionUpdateRow[], today: string): ActionDetail {
  return {
    ...toAction(row, today),
    timeline: timeline.map((u) => ({ id: u.id, recorded_on: u.recordedOn, status: u.status as Action['status'], progress: u.progress, text: u.text, created_at: iso(u.createdAt) }))
  }
}

export function toActionInput (row: ActionRow): ActionItem {
  const input: ActionItem = {
    title: row.title,
    objective_id: row.objectiveId,
    partner_ids: row.partnerIds,
    program_ids: row.programIds,
    kpi_ids: row.kpiIds,
    status: row.status as ActionItem['status'] & string,
    progress: row.progress,
    funding: fundingOf(row)
  }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.position !== null) input.position = row.position
  if (row.description !== null) input.description = row.description
  if (row.ownerId !== null) input.owner_id = row.ownerId
  if (row.horizon !== null) input.horizon = row.horizon as NonNullable<ActionItem['horizon']>
  if (row.startOn !== null) input.start_on = row.startOn
  if (row.dueOn !== null) input.due_on = row.dueOn
  if (row.budgetAmount !== null) input.budget = { amount: row.budgetAmount, currency: row.budgetCurrency as string }
  return input
}

/** The roll-up of a node from its row of the GROUPING SETS statement; a node with no action below has zeros. */
function rollupOf (row: RollupRow | undefined): RollupFigures {
  const secured = row?.funding_secured ?? 0
  return {
    actions: row?.total ?? 0,
    progress: row?.progress ?? null,
    by_status: Object.fromEntries(ACTION_STATUSES.map((s) => [s, Number(row?.[s] ?? 0)])) as RollupFigures['by_status'],
    overdue: row?.overdue ?? 0,
    without_owner: row?.without_owner ?? 0,
    budget_total: row?.budget_total ?? 0,
    funding_secured: secured,
    funding_needed: row?.funding_needed ?? 0,
    local_funding_share: secured === 0 ? null : Math.round(((row?.local_secured ?? 0) / secured) * 10000) / 10000
  }
}

/** The whole plan as one document: the nodes nested in their order, each with its roll-up. */
export function toTree (plan: PlanRow, tree: Tree, today: string): unknown {
  const planRollup = tree.rollups.find((r) => r.level === 3)
  const goalRollups = new Map(tree.rollups.filter((r) => r.level === 1).map((r) => [r.goal_id, r]))
  const objectiveRollups = new Map(tree.rollups.filter((r) => r.level === 0).map((r) => [r.objective_id, r]))
  const actionsBy = new Map<string, Action[]>()
  for (const a of tree.actions) {
    const list = actionsBy.get(a.objectiveId) ?? []
    list.push(toAction(a, today))
    actionsBy.set(a.objectiveId, list)
  }
  const objectivesBy = new Map<string, unknown[]>()
  for (const o of tree.objectives) {
    const list = objectivesBy.get(o.goalId) ?? []
    list.push({ ...toObjective(o), rollup: rollupOf(objectiveRollups.get(o.id)), actions: actionsBy.get(o.id) ?? [] })
    objectivesBy.set(o.goalId, list)
  }
  return {
    ...toPlan(plan),
    rollup: rollupOf(planRollup),
    goals: tree.goals.map((g) => ({ ...toGoal(g), rollup: rollupOf(goalRollups.get(g.id)), objectives: objectivesBy.get(g.id) ?? [] }))
  }
}
