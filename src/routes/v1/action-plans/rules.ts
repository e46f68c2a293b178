import type { FieldError } from '../../../lib/problems.js'
import type { ActionItem, FundingLine, GoalItem, ObjectiveItem, PlanInput } from './schema.js'

type Prepared<D> = { draft: D, problems: [] } | { draft: null, problems: FieldError[] }
const refused = (problems: FieldError[]): { draft: null, problems: FieldError[] } => ({ draft: null, problems })

export interface PlanDraft {
  externalId: string | null
  title: string
  vision: string | null
  periodStart: string | null
  periodEnd: string | null
  status: string
  adoptedOn: string | null
  currency: string
}

export function preparePlan (input: PlanInput): Prepared<PlanDraft> {
  if (input.period_start != null && input.period_end != null && input.period_end < input.period_start) {
    return refused([{ path: '/period_end', message: 'is before period_start' }])
  }
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      title: input.title,
      vision: input.vision ?? null,
      periodStart: input.period_start ?? null,
      periodEnd: input.period_end ?? null,
      status: input.status ?? 'draft',
      adoptedOn: input.adopted_on ?? null,
      currency: input.currency
    }
  }
}

export interface GoalDraft { planId: string, externalId: string | null, position: number | null, title: string, description: string | null }

export function prepareGoal (planId: string, input: GoalItem): Prepared<GoalDraft> {
  return { problems: [], draft: { planId, externalId: input.external_id ?? null, position: input.position ?? null, title: input.title, description: input.description ?? null } }
}

export interface ObjectiveDraft extends GoalDraft { goalId: string }

/** An objective sits under the goal its route names, or the one the import found for it. */
export function prepareObjective (planId: string, goalId: string | undefined, input: ObjectiveItem): Prepared<ObjectiveDraft> {
  const goal = goalId ?? input.goal_id
  if (goal === undefined) return refused([{ path: '/goal_id', message: 'is required' }])
  return { problems: [], draft: { planId, goalId: goal.toLowerCase(), externalId: input.external_id ?? null, position: input.position ?? null, title: input.title, description: input.description ?? null } }
}

export interface ActionDraft {
  planId: string
  objectiveId: string
  externalId: string | null
  position: number | null
  title: string
  description: string | null
  ownerId: string | null
  /** Stakeholders named by external id (imports): resolved to ids with the other references. */
  ownerExternalId: string | null
  partnerIds: string[]
  partnerExternalIds: string[] | null
  programIds: string[]
  kpiIds: string[]
  horizon: string | null
  startOn: string | null
  dueOn: string | null
  status: string
  progress: number
  budgetAmount: number | null
  budgetCurrency: string | null
  funding: FundingLine[]
}

/**
 * Applies the rules to a schema-valid action. Amounts without a currency take the plan's; whether the
 * currency is the plan's, and whether owner, partners and programs are the city's, is checked for every
 * action of a request at once (repo.ts `actionReferenceProblems`), as a 422.
 */
export function prepareAction (planId: string, currency: string, objectiveId: string | undefined, input: ActionItem): Prepared<ActionDraft> {
  const objective = objectiveId ?? input.objective_id
  const problems: FieldError[] = []
  if (objective === undefined) problems.push({ path: '/objective_id', message: 'is required' })
  if (input.start_on != null && input.due_on != null && input.due_on < input.start_on) problems.push({ path: '/due_on', message: 'is before start_on' })
  const funding = (input.funding ?? []).map((line, i): FundingLine => {
    const secured = line.secured ?? false
    if (!secured && line.secured_on != null) problems.push({ path: `/funding/${i}/secured_on`, message: 'is only for a secured line' })
    return { source_type: line.source_type, funder: line.funder ?? null, amount: line.amount, currency: line.currency ?? currency, secured, secured_on: line.secured_on ?? null }
  })
  if (problems.length > 0 || objective === undefined) return refused(problems)
  return {
    problems: [],
    draft: {
      planId,
      objectiveId: objective.toLowerCase(),
      externalId: input.external_id ?? null,
      position: input.position ?? null,
      title: input.title,
      description: input.description ?? null,
      ownerId: input.owner_id?.toLowerCase() ?? null,
      ownerExternalId: input.owner_external_id ?? null,
      partnerIds: (input.partner_ids ?? []).map((id) => id.toLowerCase()),
      partnerExternalIds: input.partner_external_ids ?? null,
      programIds: (input.program_ids ?? []).map((id) => id.toLowerCase()),
      kpiIds: (input.kpi_ids ?? []).map((id) => id.toLowerCase()),
      horizon: input.horizon ?? null,
      startOn: input.start_on ?? null,
      dueOn: input.due_on ?? null,
      status: input.status ?? 'not_started',
      progress: input.progress ?? 0,
      budgetAmount: input.budget?.amount ?? null,
      budgetCurrency: input.budget == null ? null : input.budget.currency ?? currency,
      funding
    }
  }
}

/** Whether an action is overdue on `today` (the city's day): due before it, and neither completed nor cancelled. */
export const isOverdue = (dueOn: string | null, status: string, today: string): boolean =>
  dueOn !== null && dueOn < today && status !== 'completed' && status !== 'cancelled'
