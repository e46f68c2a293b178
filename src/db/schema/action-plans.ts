import { sql } from 'drizzle-orm'
import { bigint, char, check, date, foreignKey, index, integer, jsonb, pgTable, primaryKey, smallint, text, unique, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { cityId, createdAt, recordColumns } from './columns.js'
import { stakeholders } from './stakeholders.js'

export const PLAN_STATUSES = ['draft', 'adopted', 'active', 'completed', 'archived'] as const
export const HORIZONS = ['near_term', 'medium_term', 'long_term'] as const
export const ACTION_STATUSES = ['not_started', 'on_track', 'at_risk', 'off_track', 'completed', 'cancelled'] as const
export const FUNDING_SOURCE_TYPES = ['local_government', 'community_foundation', 'federal_grant', 'state_grant', 'private', 'in_kind', 'other'] as const
/** The sources whose secured funding counts as local: the sustainability signal of a plan. */
export const LOCAL_FUNDING_SOURCES = ['local_government', 'community_foundation'] as const

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ')

/**
 * The local prevention framework: vision, then goals, objectives and actions. A plan keeps its money in one
 * ISO 4217 currency; every amount below it is an integer in that currency's minor units.
 */
export const actionPlans = pgTable('action_plans', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  title: varchar('title', { length: 300 }).notNull(),
  vision: text('vision'),
  periodStart: date('period_start', { mode: 'string' }),
  periodEnd: date('period_end', { mode: 'string' }),
  status: varchar('status', { length: 16 }).notNull().default('draft'),
  adoptedOn: date('adopted_on', { mode: 'string' }),
  currency: char('currency', { length: 3 }).notNull(),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  uniqueIndex('action_plans_external_id_idx').on(t.cityId, t.externalId),
  index('action_plans_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  check('action_plans_status_check', sql.raw(`status IN (${inList(PLAN_STATUSES)})`)),
  check('action_plans_currency_check', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  check('action_plans_period_check', sql`${t.periodEnd} IS NULL OR ${t.periodStart} IS NULL OR ${t.periodEnd} >= ${t.periodStart}`)
])

/** A goal of a plan; its external id is unique within the plan, so that a spreadsheet re-imported finds it. */
export const goals = pgTable('goals', {
  cityId: cityId(),
  id: uuid('id').notNull(),
  planId: uuid('plan_id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  /** Its place among its siblings (a spreadsheet's order); nodes without one follow, oldest first. */
  position: integer('position'),
  title: varchar('title', { length: 300 }).notNull(),
  description: text('description'),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.planId], foreignColumns: [actionPlans.cityId, actionPlans.id] }).onDelete('cascade'),
  // A constraint, not an index, so that it exists before the foreign keys that point at it are added.
  unique('goals_plan_id_key').on(t.cityId, t.planId, t.id),
  uniqueIndex('goals_external_id_idx').on(t.cityId, t.planId, t.externalId),
  index('goals_change_feed_idx').on(t.cityId, t.changeXid, t.id)
])

/** A key objective under a goal, in the goal's plan (the composite key makes it so). */
export const objectives = pgTable('objectives', {
  cityId: cityId(),
  id: uuid('id').notNull(),
  planId: uuid('plan_id').notNull(),
  goalId: uuid('goal_id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  position: integer('position'),
  title: varchar('title', { length: 300 }).notNull(),
  description: text('description'),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.planId, t.goalId], foreignColumns: [goals.cityId, goals.planId, goals.id] }).onDelete('cascade'),
  unique('objectives_plan_id_key').on(t.cityId, t.planId, t.id),
  uniqueIndex('objectives_external_id_idx').on(t.cityId, t.planId, t.externalId),
  index('objectives_goal_idx').on(t.cityId, t.goalId),
  index('objectives_change_feed_idx').on(t.cityId, t.changeXid, t.id)
])

/**
 * An action of the plan under an objective. Its owner is a stakeholder of the city (a foreign key); its
 * partners and programs are arrays whose members are checked against the city's stakeholders and programs
 * on every write, and which the stakeholders' and programs' deletes look into (GIN indexes). Funding lines
 * are a JSON array of { source_type, funder, amount, currency, secured, secured_on }, written and read with
 * the action.
 */
export const actions = pgTable('actions', {
  cityId: cityId(),
  id: uuid('id').notNull(),
  planId: uuid('plan_id').notNull(),
  objectiveId: uuid('objective_id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  position: integer('position'),
  title: varchar('title', { length: 300 }).notNull(),
  description: text('description'),
  ownerId: uuid('owner_id'),
  partnerIds: uuid('partner_ids').array().notNull().default(sql`'{}'::uuid[]`),
  programIds: uuid('program_ids').array().notNull().default(sql`'{}'::uuid[]`),
  /** The KPIs of the city the action contributes to. */
  kpiIds: uuid('kpi_ids').array().notNull().default(sql`'{}'::uuid[]`),
  horizon: varchar('horizon', { length: 16 }),
  startOn: date('start_on', { mode: 'string' }),
  dueOn: date('due_on', { mode: 'string' }),
  status: varchar('status', { length: 16 }).notNull().default('not_started'),
  progress: smallint('progress').notNull().default(0),
  budgetAmount: bigint('budget_amount', { mode: 'number' }),
  budgetCurrency: char('budget_currency', { length: 3 }),
  funding: jsonb('funding').notNull().default(sql`'[]'::jsonb`),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.planId, t.objectiveId], foreignColumns: [objectives.cityId, objectives.planId, objectives.id] }).onDelete('cascade'),
  foreignKey({ columns: [t.cityId, t.ownerId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  uniqueIndex('actions_external_id_idx').on(t.cityId, t.planId, t.externalId),
  index('actions_plan_idx').on(t.cityId, t.planId, t.id),
  index('actions_objective_idx').on(t.cityId, t.objectiveId),
  index('actions_owner_idx').on(t.cityId, t.ownerId),
  index('actions_due_idx').on(t.cityId, t.dueOn),
  index('actions_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  index('actions_partner_ids_idx').using('gin', t.partnerIds),
  index('actions_program_ids_idx').using('gin', t.programIds),
  index('actions_kpi_ids_idx').using('gin', t.kpiIds),
  check('actions_status_check', sql.raw(`status IN (${inList(ACTION_STATUSES)})`)),
  check('actions_horizon_check', sql.raw(`horizon IS NULL OR horizon IN (${inList(HORIZONS)})`)),
  check('actions_progress_check', sql`${t.progress} BETWEEN 0 AND 100`),
  check('actions_budget_check', sql`(${t.budgetAmount} IS NULL) = (${t.budgetCurrency} IS NULL) AND (${t.budgetAmount} IS NULL OR ${t.budgetAmount} >= 0)`),
  check('actions_dates_check', sql`${t.dueOn} IS NULL OR ${t.startOn} IS NULL OR ${t.dueOn} >= ${t.startOn}`),
  check('actions_funding_check', sql`jsonb_typeof(${t.funding}) = 'array'`)
])

/** The dated progress notes of an action: its timeline. Each one set the action's status and progress. */
export const actionUpdates = pgTable('action_updates', {
  cityId: cityId(),
  id: uuid('id').notNull(),
  actionId: uuid('action_id').notNull(),
  recordedOn: date('recorded_on', { mode: 'string' }).notNull(),
  status: varchar('status', { length: 16 }).notNull(),
  progress: smallint('progress').notNull(),
  text: text('text'),
  createdAt: createdAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.actionId], foreignColumns: [actions.cityId, actions.id] }).onDelete('cascade'),
  index('action_updates_action_idx').on(t.cityId, t.actionId, t.recordedOn, t.id),
  check('action_updates_status_check', sql.raw(`status IN (${inList(ACTION_STATUSES)})`)),
  check('action_updates_progress_check', sql`${t.progress} BETWEEN 0 AND 100`)
])
