import { and, eq, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { ACTION_STATUSES, actionPlans, actions, actionUpdates, goals, LOCAL_FUNDING_SOURCES, objectives } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { newId } from '../../../lib/ids.js'
import type { FieldError } from '../../../lib/problems.js'
import type { ActionDraft, GoalDraft, ObjectiveDraft, PlanDraft } from './rules.js'
import type { ActionListFilter } from './schema.js'

export type PlanRow = typeof actionPlans.$inferSelect
export type GoalRow = typeof goals.$inferSelect
export type ObjectiveRow = typeof objectives.$inferSelect
export type ActionRow = typeof actions.$inferSelect
export type ActionUpdateRow = typeof actionUpdates.$inferSelect

const PLAN_COLUMNS = allColumnsOf(actionPlans)
const GOAL_COLUMNS = allColumnsOf(goals)
const OBJECTIVE_COLUMNS = allColumnsOf(objectives)
const ACTION_COLUMNS = allColumnsOf(actions)
const decodePlan = (raw: Record<string, unknown>): PlanRow => decodeRow<PlanRow>(actionPlans, raw)
const decodeGoal = (raw: Record<string, unknown>): GoalRow => decodeRow<GoalRow>(goals, raw)
const decodeObjective = (raw: Record<string, unknown>): ObjectiveRow => decodeRow<ObjectiveRow>(objectives, raw)
const decodeAction = (raw: Record<string, unknown>): ActionRow => decodeRow<ActionRow>(actions, raw)

/** Each column a prepared record fills, declared once: for imports (set-based) and for PATCH alike. */
const PLAN_DRAFT = {
  externalId: (d: PlanDraft) => d.externalId,
  title: (d: PlanDraft) => d.title,
  vision: (d: PlanDraft) => d.vision,
  periodStart: (d: PlanDraft) => d.periodStart,
  periodEnd: (d: PlanDraft) => d.periodEnd,
  status: (d: PlanDraft) => d.status,
  adoptedOn: (d: PlanDraft) => d.adoptedOn,
  currency: (d: PlanDraft) => d.currency
}
const GOAL_DRAFT = {
  planId: (d: GoalDraft) => d.planId,
  externalId: (d: GoalDraft) => d.externalId,
  position: (d: GoalDraft) => d.position,
  title: (d: GoalDraft) => d.title,
  description: (d: GoalDraft) => d.description
}
const OBJECTIVE_DRAFT = { ...GOAL_DRAFT, goalId: (d: ObjectiveDraft) => d.goalId }
const ACTION_DRAFT = {
  planId: (d: ActionDraft) => d.planId,
  objectiveId: (d: ActionDraft) => d.objectiveId,
  externalId: (d: ActionDraft) => d.externalId,
  position: (d: ActionDraft) => d.position,
  title: (d: ActionDraft) => d.title,
  description: (d: ActionDraft) => d.description,
  ownerId: (d: ActionDraft) => d.ownerId,
  partnerIds: (d: ActionDraft) => d.partnerIds,
  programIds: (d: ActionDraft) => d.programIds,
  kpiIds: (d: ActionDraft) => d.kpiIds,
  horizon: (d: ActionDraft) => d.horizon,
  startOn: (d: ActionDraft) => d.startOn,
  dueOn: (d: ActionDraft) => d.dueOn,
  status: (d: ActionDraft) => d.status,
  progress: (d: ActionDraft) => d.progress,
  budgetAmount: (d: ActionDraft) => d.budgetAmount,
  budgetCurrency: (d: ActionDraft) => d.budgetCurrency,
  funding: (d: ActionDraft) => d.funding
}

const columnsOf = <D>(columns: Record<string, (d: D) => unknown>, draft: D): Record<string, unknown> =>
  Object.fromEntries(Object.entries(columns).map(([property, value]) => [property, value(draft)]))

/** What an import writes to a table: the draft's columns plus identity, hash and version. */
function writesOf<D> (table: BulkTable<ImportRow<D>>['table'], columns: Record<string, (d: D) => unknown>, key: string[], read: BulkTable<ImportRow<D>>['read']): BulkTable<ImportRow<D>> {
  return {
    table,
    key,
    ...(read !== undefined ? { read } : {}),
    values: {
      id: (r) => r.id,
      ...Object.fromEntries(Object.entries(columns).map(([property, value]) => [property, (r: ImportRow<D>) => value(r.draft)])),
      contentHash: (r) => r.contentHash,
      version: (r) => r.version
    }
  }
}

/** Plans are keyed on external_id in the city; goals, objectives and actions on external_id in their plan. */
export const PLAN_WRITES = writesOf<PlanDraft>(actionPlans, PLAN_DRAFT, ['externalId'], { columns: PLAN_COLUMNS, decode: decodePlan })
export const GOAL_WRITES = writesOf<GoalDraft>(goals, GOAL_DRAFT, ['planId', 'externalId'], { columns: GOAL_COLUMNS, decode: decodeGoal })
export const OBJECTIVE_WRITES = writesOf<ObjectiveDraft>(objectives, OBJECTIVE_DRAFT, ['planId', 'externalId'], { columns: OBJECTIVE_COLUMNS, decode: decodeObjective })
export const ACTION_WRITES = writesOf<ActionDraft>(actions, ACTION_DRAFT, ['planId', 'externalId'], { columns: ACTION_COLUMNS, decode: decodeAction })

// ---------------------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------------------

export async function getPlan (db: Executor, cityId: string, id: string): Promise<PlanRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${PLAN_COLUMNS} FROM action_plans WHERE action_plans.city_id = ${cityId} AND action_plans.id = ${id}`)
  return row === undefined ? undefined : decodePlan(row)
}

export async function findPlans (db: Executor, cityId: string, externalIds: string[]): Promise<PlanRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${PLAN_COLUMNS} FROM action_plans
    WHERE action_plans.city_id = ${cityId} AND action_plans.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decodePlan)
}

/** One page of the city's plans, oldest first (ids are time-ordered). */
export async function listPlans (db: Executor, cityId: string, limit: number, after: string | undefined): Promise<PlanRow[]> {
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${PLAN_COLUMNS} FROM action_plans
    WHERE action_plans.city_id = ${cityId} ${after !== undefined ? sql`AND action_plans.id > ${after}::uuid` : sql``}
    ORDER BY action_plans.id LIMIT ${limit + 1}`)
  return rows.map(decodePlan)
}

export async function replacePlan (db: Executor, cityId: string, version: number, id: string, draft: PlanDraft): Promise<PlanRow | undefined> {
  const [updated] = await db.update(actionPlans).set({ ...columnsOf(PLAN_DRAFT, draft), version: sql`${actionPlans.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(actionPlans.cityId, cityId), eq(actionPlans.id, id), eq(actionPlans.version, version))).returning()
  return updated
}

/**
 * The plans (by external id or id) whose actions hold amounts in another currency than the one a change would
 * give the plan: a plan keeps one currency, so the change is refused until those amounts are changed.
 */
export async function plansWithOtherMoney (db: Executor, cityId: string, plans: Array<{ id?: string, externalId?: string | null, currency: string }>): Promise<Set<string>> {
  const keyed = plans.filter((p) => p.id !== undefined || p.externalId != null)
  if (keyed.length === 0) return new Set()
  const ids = textArrayLiteral(keyed.map((p) => p.id ?? null))
  const externalIds = textArrayLiteral(keyed.map((p) => p.id === undefined ? p.externalId ?? null : null))
  const currencies = textArrayLiteral(keyed.map((p) => p.currency))
  const rows = await query<{ key: string }>(db, sql`SELECT DISTINCT coalesce(u.id::text, u.external_id) AS key
    FROM unnest(${ids}::uuid[], ${externalIds}::text[], ${currencies}::text[]) AS u(id, external_id, currency)
    JOIN action_plans p ON p.city_id = ${cityId} AND (p.id = u.id OR p.external_id = u.external_id)
    JOIN actions a ON a.city_id = p.city_id AND a.plan_id = p.id
    WHERE a.budget_currency <> u.currency OR EXISTS (SELECT 1 FROM jsonb_array_elements(a.funding) l WHERE l->>'currency' <> u.currency)`)
  return new Set(rows.map((r) => r.key))
}

// ---------------------------------------------------------------------------------------------------------
// Goals and objectives
// ---------------------------------------------------------------------------------------------------------

export async function getGoal (db: Executor, cityId: string, id: string): Promise<GoalRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${GOAL_COLUMNS} FROM goals WHERE goals.city_id = ${cityId} AND goals.id = ${id}`)
  return row === undefined ? undefined : decodeGoal(row)
}

export async function findGoals (db: Executor, cityId: string, planId: string, externalIds: string[]): Promise<GoalRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${GOAL_COLUMNS} FROM goals
    WHERE goals.city_id = ${cityId} AND goals.plan_id = ${planId} AND goals.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decodeGoal)
}

export async function replaceGoal (db: Executor, cityId: string, version: number, id: string, draft: GoalDraft): Promise<GoalRow | undefined> {
  const [updated] = await db.update(goals).set({ ...columnsOf(GOAL_DRAFT, draft), version: sql`${goals.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(goals.cityId, cityId), eq(goals.id, id), eq(goals.version, version))).returning()
  return updated
}

export async function getObjective (db: Executor, cityId: string, id: string): Promise<ObjectiveRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${OBJECTIVE_COLUMNS} FROM objectives WHERE objectives.city_id = ${cityId} AND objectives.id = ${id}`)
  return row === undefined ? undefined : decodeObjective(row)
}

export async function findObjectives (db: Executor, cityId: string, planId: string, externalIds: string[]): Promise<ObjectiveRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${OBJECTIVE_COLUMNS} FROM objectives
    WHERE objectives.city_id = ${cityId} AND objectives.plan_id = ${planId} AND objectives.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decodeObjective)
}

export async function replaceObjective (db: Executor, cityId: string, version: number, id: string, draft: ObjectiveDraft): Promise<ObjectiveRow | undefined> {
  const [updated] = await db.update(objectives).set({ ...columnsOf(OBJECTIVE_DRAFT, draft), version: sql`${objectives.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(objectives.cityId, cityId), eq(objectives.id, id), eq(objectives.version, version))).returning()
  return updated
}

/** What lies below a plan, goal or objective: the counts a refused delete names, and a cascade's audit records. */
export async function childrenOf (db: Executor, cityId: string, node: { planId?: string, goalId?: string, objectiveId?: string }): Promise<{ goals: number, objectives: number, actions: number }> {
  const [row] = await query<{ goals: number, objectives: number, actions: number }>(db, node.planId !== undefined
    ? sql`SELECT (SELECT count(*) FROM goals WHERE city_id = ${cityId} AND plan_id = ${node.planId})::int AS goals,
        (SELECT count(*) FROM objectives WHERE city_id = ${cityId} AND plan_id = ${node.planId})::int AS objectives,
        (SELECT count(*) FROM actions WHERE city_id = ${cityId} AND plan_id = ${node.planId})::int AS actions`
    : node.goalId !== undefined
      ? sql`SELECT 0 AS goals, (SELECT count(*) FROM objectives WHERE city_id = ${cityId} AND goal_id = ${node.goalId})::int AS objectives,
          (SELECT count(*) FROM actions a JOIN objectives o ON o.city_id = a.city_id AND o.id = a.objective_id
            WHERE a.city_id = ${cityId} AND o.goal_id = ${node.goalId})::int AS actions`
      : sql`SELECT 0 AS goals, 0 AS objectives, (SELECT count(*) FROM actions WHERE city_id = ${cityId} AND objective_id = ${node.objectiveId as string})::int AS actions`)
  return row ?? { goals: 0, objectives: 0, actions: 0 }
}

/** Deletes a node; what lies below it goes with it (the foreign keys cascade). */
export async function deleteNode (db: Executor, cityId: string, table: 'action_plans' | 'goals' | 'objectives' | 'actions', id: string): Promise<boolean> {
  const rows = await query<{ id: string }>(db, sql`DELETE FROM ${sql.raw(table)} WHERE city_id = ${cityId} AND id = ${id} RETURNING id`)
  return rows.length === 1
}

// ---------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------

/** An action with its plan's currency, which its amounts must be in. */
export type ActionWithPlan = ActionRow & { planCurrency: string }

export async function getAction (db: Executor, cityId: string, id: string): Promise<ActionWithPlan | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${ACTION_COLUMNS}, p.currency AS plan_currency FROM actions
    JOIN action_plans p ON p.city_id = actions.city_id AND p.id = actions.plan_id
    WHERE actions.city_id = ${cityId} AND actions.id = ${id}`)
  return row === undefined ? undefined : { ...decodeAction(row), planCurrency: row.plan_currency as string }
}

export async function findActions (db: Executor, cityId: string, planId: string, externalIds: string[]): Promise<ActionRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${ACTION_COLUMNS} FROM actions
    WHERE actions.city_id = ${cityId} AND actions.plan_id = ${planId} AND actions.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decodeAction)
}

export async function replaceAction (db: Executor, cityId: string, version: number, id: string, draft: ActionDraft): Promise<ActionRow | undefined> {
  const [updated] = await db.update(actions).set({ ...columnsOf(ACTION_DRAFT, draft), version: sql`${actions.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(actions.cityId, cityId), eq(actions.id, id), eq(actions.version, version))).returning()
  return updated
}

/**
 * Checks what the actions of a request refer to, all at once: owner and partners must be stakeholders of the
 * city (named by id, or by external id in an import, which is resolved here and completes the draft),
 * programs programs of the city, and every amount in the plan's currency. Two queries whatever the number of
 * actions. Returns each action's problems (paths relative to the item), or null.
 */
export async function actionReferenceProblems (db: Executor, cityId: string, currency: string, drafts: ActionDraft[]): Promise<Array<FieldError[] | null>> {
  const ids = new Set<string>()
  const externalIds = new Set<string>()
  const programIds = new Set<string>()
  const kpiIds = new Set<string>()
  for (const d of drafts) {
    if (d.ownerExternalId !== null) externalIds.add(d.ownerExternalId)
    else if (d.ownerId !== null) ids.add(d.ownerId)
    if (d.partnerExternalIds !== null) for (const e of d.partnerExternalIds) externalIds.add(e)
    else for (const id of d.partnerIds) ids.add(id)
    for (const id of d.programIds) programIds.add(id)
    for (const id of d.kpiIds) kpiIds.add(id)
  }
  const [people, programs, indicators] = await Promise.all([
    ids.size + externalIds.size === 0
      ? []
      : query<{ id: string, external_id: string | null }>(db, sql`SELECT id, external_id FROM stakeholders WHERE city_id = ${cityId}
        AND (id = ANY(${textArrayLiteral([...ids])}::uuid[]) OR external_id = ANY(${textArrayLiteral([...externalIds])}::text[]))`),
    programIds.size === 0
      ? []
      : query<{ id: string }>(db, sql`SELECT id FROM programs WHERE city_id = ${cityId} AND id = ANY(${textArrayLiteral([...programIds])}::uuid[])`),
    kpiIds.size === 0
      ? []
      : query<{ id: string }>(db, sql`SELECT id FROM kpis WHERE city_id = ${cityId} AND id = ANY(${textArrayLiteral([...kpiIds])}::uuid[])`)
  ])
  const knownIds = new Set(people.map((p) => p.id))
  const byExternalId = new Map(people.filter((p) => p.external_id !== null).map((p) => [p.external_id as string, p.id]))
  const knownPrograms = new Set(programs.map((p) => p.id))
  const knownKpis = new Set(indicators.map((k) => k.id))
  return drafts.map((d) => {
    const problems: FieldError[] = []
    if (d.ownerExternalId !== null) {
      const found = byExternalId.get(d.ownerExternalId)
      if (found === undefined) problems.push({ path: '/owner_external_id', message: 'is not the external_id of a stakeholder of this city' })
      else d.ownerId = found
    } else if (d.ownerId !== null && !knownIds.has(d.ownerId)) {
      problems.push({ path: '/owner_id', message: 'is not a stakeholder of this city' })
    }
    if (d.partnerExternalIds !== null) {
      const found: string[] = []
      d.partnerExternalIds.forEach((e, i) => {
        const id = byExternalId.get(e)
        if (id === undefined) problems.push({ path: `/partner_external_ids/${i}`, message: 'is not the external_id of a stakeholder of this city' })
        else found.push(id)
      })
      d.partnerIds = [...new Set(found)]
    } else {
      d.partnerIds.forEach((id, i) => { if (!knownIds.has(id)) problems.push({ path: `/partner_ids/${i}`, message: 'is not a stakeholder of this city' }) })
    }
    d.programIds.forEach((id, i) => { if (!knownPrograms.has(id)) problems.push({ path: `/program_ids/${i}`, message: 'is not a program of this city' }) })
    d.kpiIds.forEach((id, i) => { if (!knownKpis.has(id)) problems.push({ path: `/kpi_ids/${i}`, message: 'is not a KPI of this city' }) })
    if (d.budgetCurrency !== null && d.budgetCurrency !== currency) problems.push({ path: '/budget/currency', message: `is not the plan's currency (${currency})` })
    d.funding.forEach((line, i) => { if (line.currency !== currency) problems.push({ path: `/funding/${i}/currency`, message: `is not the plan's currency (${currency})` }) })
    return problems.length > 0 ? problems : null
  })
}

/**
 * One page of actions in creation order (ids are time-ordered), filtered; `today` is the city's day, for
 * the overdue filter.
 */
export async function listActions (db: Executor, cityId: string, filter: ActionListFilter & { limit: number }, today: string, after: string | undefined): Promise<ActionRow[]> {
  const overdue = sql`(${actions.dueOn} < ${today}::date AND ${actions.status} NOT IN ('completed', 'cancelled'))`
  const conditions: Array<SQL | undefined> = [
    eq(actions.cityId, cityId),
    filter.plan !== undefined ? eq(actions.planId, filter.plan) : undefined,
    filter.status !== undefined ? eq(actions.status, filter.status) : undefined,
    filter.owner !== undefined ? eq(actions.ownerId, filter.owner) : undefined,
    filter.horizon !== undefined ? eq(actions.horizon, filter.horizon) : undefined,
    filter.due_before !== undefined ? sql`${actions.dueOn} < ${filter.due_before}::date` : undefined,
    filter.overdue === true ? overdue : filter.overdue === false ? sql`NOT coalesce(${overdue}, false)` : undefined,
    filter.updated_since !== undefined ? sql`${actions.updatedAt} >= ${filter.updated_since}::timestamptz` : undefined,
    after !== undefined ? sql`${actions.id} > ${after}::uuid` : undefined
  ]
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${ACTION_COLUMNS} FROM actions WHERE ${and(...conditions)} ORDER BY ${actions.id} LIMIT ${filter.limit + 1}`)
  return rows.map(decodeAction)
}

export async function timelineOf (db: Executor, cityId: string, actionId: string): Promise<ActionUpdateRow[]> {
  return await db.select().from(actionUpdates).where(and(eq(actionUpdates.cityId, cityId), eq(actionUpdates.actionId, actionId)))
    .orderBy(actionUpdates.recordedOn, actionUpdates.createdAt, actionUpdates.id)
}

/** Appends a progress note and sets the action's status and progress, if it is still at `version`. */
export async function recordProgress (db: Executor, cityId: string, action: ActionRow, note: { recordedOn: string, status: string, progress: number, text: string | null }): Promise<ActionRow | undefined> {
  const [updated] = await db.update(actions).set({ status: note.status, progress: note.progress, version: sql`${actions.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(actions.cityId, cityId), eq(actions.id, action.id), eq(actions.version, action.version))).returning()
  if (updated === undefined) return undefined
  await db.insert(actionUpdates).values({ cityId, id: newId(), actionId: action.id, ...note })
  return updated
}

// ---------------------------------------------------------------------------------------------------------
// The tree and its roll-ups
// ---------------------------------------------------------------------------------------------------------

export interface Tree { goals: GoalRow[], objectives: ObjectiveRow[], actions: ActionRow[], rollups: RollupRow[] }

/** The roll-up of one node: an objective (level 0), a goal (level 1) or the plan (level 3). */
export interface RollupRow {
  goal_id: string | null
  objective_id: string | null
  level: number
  total: number
  progress: number | null
  overdue: number
  without_owner: number
  budget_total: number
  funding_secured: number
  funding_needed: number
  local_secured: number
  [status: string]: unknown
}

const LOCAL = sql.raw(LOCAL_FUNDING_SOURCES.map((s) => `'${s}'`).join(', '))
const BY_STATUS = sql.raw(ACTION_STATUSES.map((s) => `count(*) FILTER (WHERE status = '${s}')::int AS "${s}"`).join(', '))

/**
 * Every roll-up of a plan in one statement: the actions with their funding summed per action (a lateral
 * pass over each one's funding lines), grouped at once by objective, by goal and for the whole plan
 * (GROUPING SETS). `today` is the city's day (lib/dates.ts), which decides what is overdue. Sums are sent
 * as float8: amounts are bounded so that they stay exact.
 */
function rollupStatement (cityId: string, planId: string, today: string): SQL {
  return sql`WITH a AS (
    SELECT o.goal_id, x.objective_id, x.status, x.progress, x.owner_id, x.due_on, x.budget_amount, f.secured, f.local_secured
    FROM actions x
    JOIN objectives o ON o.city_id = x.city_id AND o.id = x.objective_id
    CROSS JOIN LATERAL (
      SELECT coalesce(sum((l->>'amount')::bigint) FILTER (WHERE (l->>'secured')::boolean), 0) AS secured,
             coalesce(sum((l->>'amount')::bigint) FILTER (WHERE (l->>'secured')::boolean AND l->>'source_type' IN (${LOCAL})), 0) AS local_secured
      FROM jsonb_array_elements(x.funding) l
    ) f
    WHERE x.city_id = ${cityId} AND x.plan_id = ${planId}
  )
  SELECT goal_id, objective_id, grouping(goal_id, objective_id)::int AS level, count(*)::int AS total, ${BY_STATUS},
    round(avg(CASE WHEN status = 'completed' THEN 100 ELSE progress END) FILTER (WHERE status <> 'cancelled'), 1)::float8 AS progress,
    count(*) FILTER (WHERE due_on < ${today}::date AND status NOT IN ('completed', 'cancelled'))::int AS overdue,
    count(*) FILTER (WHERE owner_id IS NULL AND status <> 'cancelled')::int AS without_owner,
    coalesce(sum(budget_amount) FILTER (WHERE status <> 'cancelled'), 0)::float8 AS budget_total,
    coalesce(sum(secured) FILTER (WHERE status <> 'cancelled'), 0)::float8 AS funding_secured,
    coalesce(sum(greatest(coalesce(budget_amount, 0) - secured, 0)) FILTER (WHERE status <> 'cancelled'), 0)::float8 AS funding_needed,
    coalesce(sum(local_secured) FILTER (WHERE status <> 'cancelled'), 0)::float8 AS local_secured
  FROM a
  GROUP BY GROUPING SETS ((goal_id, objective_id), (goal_id), ())`
}

/**
 * A plan's tree: its goals, objectives and actions, and every node's roll-up: four statements whatever the
 * size of the plan, sent together.
 */
export async function treeOf (db: Executor, cityId: string, planId: string, today: string): Promise<Tree> {
  const [goalRows, objectiveRows, actionRows, rollups] = await Promise.all([
    query<Record<string, unknown>>(db, sql`SELECT ${GOAL_COLUMNS} FROM goals WHERE goals.city_id = ${cityId} AND goals.plan_id = ${planId} ORDER BY goals.position NULLS LAST, goals.id`),
    query<Record<string, unknown>>(db, sql`SELECT ${OBJECTIVE_COLUMNS} FROM objectives WHERE objectives.city_id = ${cityId} AND objectives.plan_id = ${planId} ORDER BY objectives.position NULLS LAST, objectives.id`),
    query<Record<string, unknown>>(db, sql`SELECT ${ACTION_COLUMNS} FROM actions WHERE actions.city_id = ${cityId} AND actions.plan_id = ${planId} ORDER BY actions.position NULLS LAST, actions.id`),
    query<RollupRow>(db, rollupStatement(cityId, planId, today))
  ])
  return { goals: goalRows.map(decodeGoal), objectives: objectiveRows.map(decodeObjective), actions: actionRows.map(decodeAction), rollups }
}
