import Type, { type Static } from 'typebox'
import { ACTION_STATUSES, FUNDING_SOURCE_TYPES, HORIZONS, PLAN_STATUSES } from '../../../db/schema/index.js'
import { ItemOutcomeSchema, SummarySchema } from '../../../lib/batch.js'
import { DateOnly, Int, Nullable, OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

/** The most actions one tree import may hold, and the bounds of each level of its tree. */
export const IMPORT_MAX_ACTIONS = 5000
export const IMPORT_MAX_GOALS = 100
export const IMPORT_MAX_OBJECTIVES = 100
export const IMPORT_MAX_ACTIONS_PER_OBJECTIVE = 1000
/** The largest amount of money in minor units: ten billion in a two-decimal currency, so that sums stay exact. */
export const AMOUNT_MAX = 1_000_000_000_000

const Amount = (options: object = {}) => Type.Integer({ format: 'int64', minimum: 0, maximum: AMOUNT_MAX, description: 'In minor units (cents).', ...options })
const Currency = (options: object = {}) => Type.String({ pattern: '^[A-Z]{3}$', minLength: 3, maxLength: 3, description: 'ISO 4217 code.', ...options })
const ExternalId = (description: string) => Type.String({ minLength: 1, maxLength: 200, description })
const Title = Type.String({ minLength: 1, maxLength: 300 })
const Text = Type.String({ maxLength: 10000 })
const Position = Int({ minimum: 0, maximum: 100000, description: 'Its place among its siblings; nodes without one follow, oldest first. An import sets it from the spreadsheet\'s order.' })

// ---------------------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------------------

const planFields = {
  title: Title,
  vision: Text,
  period_start: DateOnly(),
  period_end: DateOnly({ description: 'On or after period_start.' }),
  status: Type.Enum(PLAN_STATUSES),
  adopted_on: DateOnly({ description: 'The day the plan was adopted (by council or the leadership group).' }),
  currency: Currency({ description: 'The one currency of every amount in the plan (ISO 4217): budgets and funding lines in another are refused.' })
}

export const PlanInputSchema = Type.Object({
  external_id: Type.Optional(ExternalId('The plan\'s id in the city\'s own records; unique in the city. Sent again, it updates the plan.')),
  title: planFields.title,
  vision: Type.Optional(Nullable(planFields.vision)),
  period_start: Type.Optional(Nullable(planFields.period_start)),
  period_end: Type.Optional(Nullable(planFields.period_end)),
  status: Type.Optional(planFields.status),
  adopted_on: Type.Optional(Nullable(planFields.adopted_on)),
  currency: planFields.currency
}, {
  $id: 'ActionPlanInput',
  additionalProperties: false,
  description: 'A local prevention framework: its vision and period, then goals, objectives and actions added below it.'
})

export const PlanPatchSchema = Type.Object({
  title: Type.Optional(planFields.title),
  vision: Type.Optional(Nullable(planFields.vision)),
  period_start: Type.Optional(Nullable(planFields.period_start)),
  period_end: Type.Optional(Nullable(planFields.period_end)),
  status: Type.Optional(planFields.status),
  adopted_on: Type.Optional(Nullable(planFields.adopted_on)),
  currency: Type.Optional(planFields.currency)
}, { additionalProperties: false, minProperties: 1, description: 'A JSON Merge Patch (RFC 7396). The currency changes only while no action carries an amount.' })

const planOut = {
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  title: Type.String({ maxLength: 300 }),
  vision: OrNull(Type.String({ maxLength: 10000 })),
  period_start: OrNull(DateOnly()),
  period_end: OrNull(DateOnly()),
  status: Type.Enum(PLAN_STATUSES),
  adopted_on: OrNull(DateOnly()),
  currency: Type.String({ maxLength: 3 }),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}

export const PlanSchema = Type.Object(planOut, { $id: 'ActionPlan', additionalProperties: false })

// ---------------------------------------------------------------------------------------------------------
// Roll-ups
// ---------------------------------------------------------------------------------------------------------

const Count = (description: string) => Int({ minimum: 0, maximum: 2147483647, description })
const Sum = (description: string) => Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })

export const RollupSchema = Type.Object({
  actions: Count('Every action below this node, whatever its status.'),
  progress: OrNull(Type.Number({
    minimum: 0,
    maximum: 100,
    description: 'The mean progress (0–100, one decimal) of the actions below, cancelled actions left out and a completed action counting 100 ' +
      'whatever its own progress says; null when no action below is left.'
  })),
  by_status: Type.Object(Object.fromEntries(ACTION_STATUSES.map((s) => [s, Count(`Actions below with status ${s}.`)])) as Record<(typeof ACTION_STATUSES)[number], ReturnType<typeof Count>>, {
    additionalProperties: false, description: 'The actions below, counted by status; every status is present.'
  }),
  overdue: Count('Actions below whose due_on is before today in the city\'s timezone (the city\'s `timezone` setting) and whose status is ' +
    'neither completed nor cancelled. An action due today is not overdue yet.'),
  without_owner: Count('Actions below that are not cancelled and have no owner.'),
  budget_total: Sum('The sum of the budgets of the actions below that are not cancelled, in the plan\'s currency (minor units); an action without a budget adds 0.'),
  funding_secured: Sum('The sum of the funding lines marked secured of the actions below that are not cancelled (minor units).'),
  funding_needed: Sum('What the budgets still lack: for each action below that is not cancelled, its budget minus its secured funding, ' +
    'never below 0 (an action funded beyond its budget does not fund another), summed (minor units).'),
  local_funding_share: OrNull(Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'The sustainability signal: secured funding from local_government and community_foundation lines divided by all secured ' +
      'funding, over the same actions as funding_secured (a fraction 0–1, four decimals); null when nothing is secured.'
  }))
}, {
  $id: 'ActionPlanRollup',
  additionalProperties: false,
  description: 'Figures computed when the plan is read, from the actions below the node (all of the plan\'s for the plan itself), never stored: ' +
    'one set-based query (GROUPING SETS over objective, goal and plan) computes every node\'s at once.'
})

// ---------------------------------------------------------------------------------------------------------
// Goals and objectives
// ---------------------------------------------------------------------------------------------------------

export const GoalInputSchema = Type.Object({
  external_id: Type.Optional(ExternalId('The goal\'s id in the plan\'s spreadsheet; unique in the plan.')),
  position: Type.Optional(Nullable(Position)),
  title: Title,
  description: Type.Optional(Nullable(Text))
}, { $id: 'GoalInput', additionalProperties: false, description: 'A goal of the plan.' })

export const GoalPatchSchema = Type.Object({
  external_id: Type.Optional(Nullable(ExternalId('Unique in the plan.'))),
  position: Type.Optional(Nullable(Position)),
  title: Type.Optional(Title),
  description: Type.Optional(Nullable(Text))
}, { additionalProperties: false, minProperties: 1, description: 'A JSON Merge Patch (RFC 7396).' })

export const GoalSchema = Type.Object({
  id: Uuid(),
  plan_id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  position: OrNull(Int({ minimum: 0, maximum: 100000 })),
  title: Type.String({ maxLength: 300 }),
  description: OrNull(Type.String({ maxLength: 10000 })),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Goal', additionalProperties: false })

export const ObjectiveInputSchema = Type.Object({
  external_id: Type.Optional(ExternalId('The objective\'s id in the plan\'s spreadsheet; unique in the plan.')),
  position: Type.Optional(Nullable(Position)),
  title: Title,
  description: Type.Optional(Nullable(Text))
}, { $id: 'ObjectiveInput', additionalProperties: false, description: 'A key objective under a goal.' })

export const ObjectivePatchSchema = Type.Object({
  external_id: Type.Optional(Nullable(ExternalId('Unique in the plan.'))),
  position: Type.Optional(Nullable(Position)),
  title: Type.Optional(Title),
  description: Type.Optional(Nullable(Text)),
  goal_id: Type.Optional(Uuid({ description: 'Moves the objective, with its actions, under another goal of the same plan.' }))
}, { additionalProperties: false, minProperties: 1, description: 'A JSON Merge Patch (RFC 7396).' })

export const ObjectiveSchema = Type.Object({
  id: Uuid(),
  plan_id: Uuid(),
  goal_id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  position: OrNull(Int({ minimum: 0, maximum: 100000 })),
  title: Type.String({ maxLength: 300 }),
  description: OrNull(Type.String({ maxLength: 10000 })),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Objective', additionalProperties: false })

// ---------------------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------------------

const FundingLineInput = Type.Object({
  source_type: Type.Enum(FUNDING_SOURCE_TYPES),
  funder: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 300, description: 'Who gives it: a department, a foundation, a grant programme.' }))),
  amount: Amount(),
  currency: Type.Optional(Currency({ description: 'The plan\'s currency; another is a 422. Omitted: the plan\'s.' })),
  secured: Type.Optional(Type.Boolean({ default: false, description: 'Committed (awarded, appropriated), not only sought.' })),
  secured_on: Type.Optional(Nullable(DateOnly({ description: 'Only for a secured line.' })))
}, { additionalProperties: false })

const FundingLineSchema = Type.Object({
  source_type: Type.Enum(FUNDING_SOURCE_TYPES),
  funder: OrNull(Type.String({ maxLength: 300 })),
  amount: Amount(),
  currency: Type.String({ maxLength: 3 }),
  secured: Type.Boolean(),
  secured_on: OrNull(DateOnly())
}, { additionalProperties: false })

const BudgetInput = Type.Object({
  amount: Amount(),
  currency: Type.Optional(Currency({ description: 'The plan\'s currency; another is a 422. Omitted: the plan\'s.' }))
}, { additionalProperties: false })

const actionFields = {
  title: Title,
  description: Text,
  owner_id: Uuid({ description: 'The stakeholder of the city responsible for the action.' }),
  partner_ids: Type.Array(Uuid(), { maxItems: 100, uniqueItems: true, description: 'Stakeholders of the city working on it with the owner.' }),
  program_ids: Type.Array(Uuid(), { maxItems: 100, uniqueItems: true, description: 'Programs of the city\'s directory the action draws on.' }),
  kpi_ids: Type.Array(Uuid(), { maxItems: 100, uniqueItems: true, description: 'KPIs of the city the action contributes to.' }),
  horizon: Type.Enum(HORIZONS),
  start_on: DateOnly(),
  due_on: DateOnly({ description: 'On or after start_on. Overdue once the city\'s day is past it, unless completed or cancelled.' }),
  status: Type.Enum(ACTION_STATUSES),
  progress: Int({ minimum: 0, maximum: 100, description: 'Percent done.' }),
  budget: BudgetInput,
  funding: Type.Array(FundingLineInput, { maxItems: 50, description: 'Where the money comes from, line by line. Replaced whole.' })
}

const actionInputMembers = {
  external_id: Type.Optional(ExternalId('The action\'s id in the plan\'s spreadsheet; unique in the plan.')),
  position: Type.Optional(Nullable(Position)),
  title: actionFields.title,
  description: Type.Optional(Nullable(actionFields.description)),
  owner_id: Type.Optional(Nullable(actionFields.owner_id)),
  partner_ids: Type.Optional(Nullable(actionFields.partner_ids)),
  program_ids: Type.Optional(Nullable(actionFields.program_ids)),
  kpi_ids: Type.Optional(Nullable(actionFields.kpi_ids)),
  horizon: Type.Optional(Nullable(actionFields.horizon)),
  start_on: Type.Optional(Nullable(actionFields.start_on)),
  due_on: Type.Optional(Nullable(actionFields.due_on)),
  status: Type.Optional(actionFields.status),
  progress: Type.Optional(actionFields.progress),
  budget: Type.Optional(Nullable(actionFields.budget)),
  funding: Type.Optional(Nullable(actionFields.funding))
}

export const ActionInputSchema = Type.Object(actionInputMembers, {
  $id: 'ActionInput',
  additionalProperties: false,
  description: 'An action under an objective. Owner and partners must be stakeholders of the city, programs programs of its directory, KPIs KPIs of the city (a 422 ' +
    'names each that is not); amounts are in the plan\'s currency.'
})

export const ActionPatchSchema = Type.Object({
  external_id: Type.Optional(Nullable(ExternalId('Unique in the plan.'))),
  position: Type.Optional(Nullable(Position)),
  title: Type.Optional(actionFields.title),
  description: Type.Optional(Nullable(actionFields.description)),
  owner_id: Type.Optional(Nullable(actionFields.owner_id)),
  partner_ids: Type.Optional(Nullable(actionFields.partner_ids)),
  program_ids: Type.Optional(Nullable(actionFields.program_ids)),
  kpi_ids: Type.Optional(Nullable(actionFields.kpi_ids)),
  horizon: Type.Optional(Nullable(actionFields.horizon)),
  start_on: Type.Optional(Nullable(actionFields.start_on)),
  due_on: Type.Optional(Nullable(actionFields.due_on)),
  status: Type.Optional(actionFields.status),
  progress: Type.Optional(actionFields.progress),
  budget: Type.Optional(Nullable(actionFields.budget)),
  funding: Type.Optional(Nullable(actionFields.funding)),
  objective_id: Type.Optional(Uuid({ description: 'Moves the action under another objective of the same plan.' }))
}, { additionalProperties: false, minProperties: 1, description: 'A JSON Merge Patch (RFC 7396): arrays (partners, programs, KPIs, funding) replace whole.' })

const actionOut = {
  id: Uuid(),
  plan_id: Uuid(),
  objective_id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  position: OrNull(Int({ minimum: 0, maximum: 100000 })),
  title: Type.String({ maxLength: 300 }),
  description: OrNull(Type.String({ maxLength: 10000 })),
  owner_id: OrNull(Uuid()),
  partner_ids: Type.Array(Uuid(), { maxItems: 100 }),
  program_ids: Type.Array(Uuid(), { maxItems: 100 }),
  kpi_ids: Type.Array(Uuid(), { maxItems: 100 }),
  horizon: OrNull(Type.Enum(HORIZONS)),
  start_on: OrNull(DateOnly()),
  due_on: OrNull(DateOnly()),
  status: Type.Enum(ACTION_STATUSES),
  progress: Int({ minimum: 0, maximum: 100 }),
  overdue: Type.Boolean({ description: 'Due before today in the city\'s timezone, and neither completed nor cancelled.' }),
  budget: OrNull(Type.Object({ amount: Amount(), currency: Type.String({ maxLength: 3 }) }, { additionalProperties: false })),
  funding: Type.Array(FundingLineSchema, { maxItems: 50 }),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}

export const ActionSchema = Type.Object(actionOut, { $id: 'Action', additionalProperties: false })

export const ActionUpdateSchema = Type.Object({
  id: Uuid(),
  recorded_on: DateOnly(),
  status: Type.Enum(ACTION_STATUSES),
  progress: Int({ minimum: 0, maximum: 100 }),
  text: OrNull(Type.String({ maxLength: 10000 })),
  created_at: Timestamp()
}, { $id: 'ActionUpdate', additionalProperties: false })

export const ActionDetailSchema = Type.Object({
  ...actionOut,
  timeline: Type.Array(Type.Unsafe<Static<typeof ActionUpdateSchema>>({ $ref: 'ActionUpdate#' }), { maxItems: 10000, description: 'The progress notes, oldest first.' })
}, { $id: 'ActionDetail', additionalProperties: false, description: 'An action with its timeline of progress notes.' })

export const ActionUpdateInputSchema = Type.Object({
  recorded_on: Type.Optional(DateOnly({ description: 'The day the note speaks of; today in the city\'s timezone when omitted; not in the future.' })),
  status: actionFields.status,
  progress: Type.Optional(Int({ minimum: 0, maximum: 100, description: 'Omitted: the action\'s progress, or 100 when the status is completed.' })),
  text: Type.Optional(Nullable(Type.String({ maxLength: 10000 })))
}, { $id: 'ActionUpdateInput', additionalProperties: false, description: 'A dated progress note: it sets the action\'s status and progress.' })

export const ActionListQuery = Type.Object({
  ...PageQuery,
  plan: Type.Optional(Uuid({ description: 'Only the actions of this plan.' })),
  status: Type.Optional(Type.Enum(ACTION_STATUSES)),
  owner: Type.Optional(Uuid({ description: 'Only the actions this stakeholder owns.' })),
  horizon: Type.Optional(Type.Enum(HORIZONS)),
  due_before: Type.Optional(DateOnly({ description: 'Only actions due before this day.' })),
  overdue: Type.Optional(Type.Boolean({ description: 'true: only overdue actions (due before today in the city\'s timezone, neither completed nor cancelled); false: only the others.' })),
  updated_since: Type.Optional(Timestamp({ description: 'Only actions changed at or after this time.' }))
}, { additionalProperties: false })

// ---------------------------------------------------------------------------------------------------------
// The tree: read whole, imported whole
// ---------------------------------------------------------------------------------------------------------

const Ref = <T>(id: string) => Type.Unsafe<T>({ $ref: `${id}#` })
type Rollup = Static<typeof RollupSchema>

export const PlanTreeSchema = Type.Object({
  ...planOut,
  rollup: Ref<Rollup>('ActionPlanRollup'),
  goals: Type.Array(Type.Object({
    ...GoalSchema.properties,
    rollup: Ref<Rollup>('ActionPlanRollup'),
    objectives: Type.Array(Type.Object({
      ...ObjectiveSchema.properties,
      rollup: Ref<Rollup>('ActionPlanRollup'),
      actions: Type.Array(Ref<Static<typeof ActionSchema>>('Action'), { maxItems: 100000 })
    }, { additionalProperties: false }), { maxItems: 100000 })
  }, { additionalProperties: false }), { maxItems: 100000 })
}, { $id: 'ActionPlanTree', additionalProperties: false, description: 'A plan with its goals, objectives and actions, each node with its roll-up.' })

const ImportAction = Type.Object({
  ...actionInputMembers,
  external_id: ExternalId('The action\'s id in the spreadsheet; unique in the plan.'),
  owner_external_id: Type.Optional(ExternalId('The owner named by its stakeholder external_id, since a spreadsheet does not know ids.')),
  partner_external_ids: Type.Optional(Type.Array(ExternalId('A stakeholder external_id.'), { maxItems: 100, uniqueItems: true, description: 'Partners by stakeholder external_id; replaces partner_ids.' }))
}, { additionalProperties: false })

const ImportObjective = Type.Object({
  external_id: ExternalId('The objective\'s id in the spreadsheet; unique in the plan.'),
  position: Type.Optional(Nullable(Position)),
  title: Title,
  description: Type.Optional(Nullable(Text)),
  actions: Type.Optional(Type.Array(ImportAction, { maxItems: IMPORT_MAX_ACTIONS_PER_OBJECTIVE }))
}, { additionalProperties: false })

export const PlanImportSchema = Type.Object({
  goals: Type.Array(Type.Object({
    external_id: ExternalId('The goal\'s id in the spreadsheet; unique in the plan.'),
    position: Type.Optional(Nullable(Position)),
    title: Title,
    description: Type.Optional(Nullable(Text)),
    objectives: Type.Optional(Type.Array(ImportObjective, { maxItems: IMPORT_MAX_OBJECTIVES }))
  }, { additionalProperties: false }), { maxItems: IMPORT_MAX_GOALS })
}, {
  $id: 'ActionPlanImport',
  additionalProperties: false,
  description: `A plan's tree as a spreadsheet holds it, every node with its external_id (at most ${IMPORT_MAX_ACTIONS} actions).`
})

export const PlanImportResultSchema = Type.Object({
  dry_run: Type.Boolean(),
  summary: SummarySchema(IMPORT_MAX_ACTIONS * 2),
  goals: Type.Array(ItemOutcomeSchema(IMPORT_MAX_GOALS), { maxItems: IMPORT_MAX_GOALS, description: 'In the order of the request; index counts goals.' }),
  objectives: Type.Array(ItemOutcomeSchema(IMPORT_MAX_ACTIONS), { maxItems: IMPORT_MAX_ACTIONS, description: 'Depth first; index counts objectives across goals.' }),
  actions: Type.Array(ItemOutcomeSchema(IMPORT_MAX_ACTIONS), { maxItems: IMPORT_MAX_ACTIONS, description: 'Depth first; index counts actions across objectives.' })
}, { $id: 'ActionPlanImportResult', additionalProperties: false })

export const CascadeQuery = Type.Object({
  cascade: Type.Optional(Type.Boolean({ default: false, description: 'Also delete everything below. Without it, a node that still has children is a 409.' }))
}, { additionalProperties: false })

export type PlanInput = Static<typeof PlanInputSchema>
export type PlanPatch = Static<typeof PlanPatchSchema>
export type Plan = Static<typeof PlanSchema>
export type GoalInput = Static<typeof GoalInputSchema>
export type Goal = Static<typeof GoalSchema>
export type ObjectiveInput = Static<typeof ObjectiveInputSchema>
export type Objective = Static<typeof ObjectiveSchema>
export type ActionInput = Static<typeof ActionInputSchema>
export type Action = Static<typeof ActionSchema>
export type ActionDetail = Static<typeof ActionDetailSchema>
export type ActionUpdate = Static<typeof ActionUpdateSchema>
export type ActionListFilter = Static<typeof ActionListQuery>
export type PlanImport = Static<typeof PlanImportSchema>
export type RollupFigures = Rollup
export type FundingLine = Static<typeof FundingLineSchema>

/** What the imports accept besides the public fields: the parent found for the node, and stakeholders by external id. */
export const GoalItemSchema = GoalInputSchema
export const ObjectiveItemSchema = Type.Object({ ...ObjectiveInputSchema.properties, goal_id: Type.Optional(Uuid()) }, { additionalProperties: false })
export const ActionItemSchema = Type.Object({
  ...ActionInputSchema.properties,
  objective_id: Type.Optional(Uuid()),
  owner_external_id: Type.Optional(ExternalId('')),
  partner_external_ids: Type.Optional(Type.Array(ExternalId(''), { maxItems: 100, uniqueItems: true }))
}, { additionalProperties: false })
export type GoalItem = Static<typeof GoalItemSchema>
export type ObjectiveItem = Static<typeof ObjectiveItemSchema>
export type ActionItem = Static<typeof ActionItemSchema>

export const ActionPlanImportQuery = Type.Object({
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'Validate and answer the outcomes; write nothing.' }))
}, { additionalProperties: false })
