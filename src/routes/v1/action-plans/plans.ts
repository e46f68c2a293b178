import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import type { Executor } from '../../../db/client.js'
import { actorOf, type AuditActor } from '../../../lib/audit.js'
import { importItems, summaryOf, type Importable, type ItemOutcome, type StoredRecord } from '../../../lib/batch.js'
import { today } from '../../../lib/dates.js'
import { etagOf } from '../../../lib/etag.js'
import { newId } from '../../../lib/ids.js'
import { createOne, BATCH_BODY_LIMIT } from '../../../lib/import-routes.js'
import { applyMergePatch, type JsonObject } from '../../../lib/merge-patch.js'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { notFound, ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, Page, PageQuery, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf, type Caller } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { actionImports, goalImports, objectiveImports, PLAN, planImports } from './imports.js'
import { toGoal, toPlan, toPlanInput, toTree } from './present.js'
import { getGoal, getPlan, listPlans, plansWithOtherMoney, replacePlan, treeOf, type PlanRow } from './repo.js'
import { preparePlan } from './rules.js'
import {
  ActionPlanImportQuery, GoalInputSchema, GoalSchema, IMPORT_MAX_ACTIONS, PlanImportResultSchema, PlanImportSchema, PlanInputSchema, PlanPatchSchema,
  PlanSchema, PlanTreeSchema, type ActionItem, type GoalItem, type ObjectiveItem, type PlanImport
} from './schema.js'
import { IfMatch, invalid, READ, TAG, unprocessable, WRITE, registerNodeDelete } from './shared.js'

const LIST = 'action-plans'

const ROLLUPS = 'Every node carries a `rollup`, computed when the plan is read and never stored: `progress` is the mean progress of the actions ' +
  'below it, cancelled actions left out and a completed action counting 100 (null when none is left); `by_status` counts them by status; ' +
  '`overdue` counts those due before today in the city\'s timezone that are neither completed nor cancelled; `without_owner` counts those not ' +
  'cancelled that have no owner; `budget_total` sums the budgets, `funding_secured` the secured funding lines, and `funding_needed` what each ' +
  'budget still lacks (budget minus secured funding, never below 0, per action) of the actions not cancelled; `local_funding_share` is the ' +
  'secured funding from local_government and community_foundation lines divided by all secured funding (0–1; null when nothing is secured). ' +
  'Amounts are integers in the minor units of the plan\'s currency. The whole tree is read in five queries whatever its size: the plan, its ' +
  'goals, objectives and actions, and one GROUPING SETS statement for every roll-up.'

const plansRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const PlanRef = ref(PlanSchema)
  const plans = planImports()

  app.post('', {
    schema: {
      operationId: 'createActionPlan',
      tags: [TAG],
      summary: 'Draft a prevention plan',
      description: 'The local prevention framework: vision, period, status and the one currency of its amounts. With `external_id`, sending ' +
        'the same plan again updates it (200) instead of creating another.',
      security: [{ bearer: [WRITE] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(PlanInputSchema),
      response: { 200: withEtag(PlanRef), 201: withEtag(PlanRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    return await createOne(app, request, reply, plans, {
      location: (id) => `/v1/action-plans/${id}`,
      read: async (db, id) => await getPlan(db, caller.cityId, id),
      present: toPlan
    })
  })

  app.get('', {
    schema: {
      operationId: 'listActionPlans',
      tags: [TAG],
      summary: 'List the city\'s prevention plans',
      description: 'Oldest first, without their trees: read one plan for its goals, objectives, actions and roll-ups.',
      security: [{ bearer: [READ] }],
      querystring: Type.Object(PageQuery, { additionalProperties: false }),
      response: { 200: Page(PlanRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor } = request.query
    const after = cursor !== undefined ? uuidPosition(app.cursors.decode(caller.cityId, LIST, cursor)) : undefined
    const rows = await listPlans(app.db, caller.cityId, limit, after)
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(caller.cityId, LIST, position))
    return { data: page.data.map(toPlan), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getActionPlan',
      tags: [TAG],
      summary: 'Read a plan whole: goals, objectives, actions and roll-ups',
      description: `${ROLLUPS} Answers the plan's \`ETag\` for \`PATCH\`.`,
      security: [{ bearer: [READ] }],
      params: IdParams,
      response: { 200: withEtag(ref(PlanTreeSchema)), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const plan = await getPlan(app.db, caller.cityId, request.params.id)
    if (plan === undefined) throw notFound(PLAN_WORD)
    const day = today(caller.city.timezone)
    const tree = await treeOf(app.db, caller.cityId, plan.id, day)
    reply.header('etag', etagOf(plan.id, plan.version))
    return toTree(plan, tree, day) as never
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateActionPlan',
      tags: [TAG],
      summary: 'Change a plan: adopt it, extend its period, reword its vision',
      description: 'Requires `If-Match`. The currency changes only while no action of the plan holds an amount in the old one (422).',
      security: [{ bearer: [READ, WRITE] }],
      params: IdParams,
      headers: IfMatch,
      body: mergePatchBody(PlanPatchSchema),
      response: { 200: withEtag(PlanRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const patch = request.body
    const updated = await updateVersioned<PlanRow>(app.db, request, reply, {
      what: PLAN_WORD,
      objectType: PLAN,
      action: (row) => patch.status !== undefined && patch.status !== row.status ? `${PLAN}.status_changed` : `${PLAN}.updated`,
      read: async (tx) => await getPlan(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = preparePlan(applyMergePatch(toPlanInput(row), patch))
        if (prepared.draft === null) throw invalid(PLAN_WORD, prepared.problems)
        if (prepared.draft.currency !== row.currency && (await plansWithOtherMoney(tx, cityId, [{ id: row.id, currency: prepared.draft.currency }])).size > 0) {
          throw unprocessable([{ path: '/currency', message: `differs from ${row.currency}, the currency the plan's actions hold amounts in` }])
        }
        return await replacePlan(tx, cityId, row.version, row.id, prepared.draft)
      }
    })
    return toPlan(updated)
  })

  registerNodeDelete(app, {
    level: 'plan',
    operationId: 'deleteActionPlan',
    summary: 'Delete a plan',
    description: 'A plan that still has goals is a 409 unless `cascade=true`, which deletes its goals, objectives, actions and their ' +
        'timelines with it. Archive an outdated plan with PATCH `{"status": "archived"}` instead. Every deletion is audited.',
    kind: PLAN,
    word: PLAN_WORD,
    read: getPlan
  })

  app.post('/:id/goals', {
    schema: {
      operationId: 'createGoal',
      tags: [TAG],
      summary: 'Add a goal to a plan',
      description: 'With `external_id` (unique in the plan), sending the same goal again updates it (200).',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(GoalInputSchema),
      response: { 200: withEtag(ref(GoalSchema)), 201: withEtag(ref(GoalSchema)), ...problemResponses(...AUTHENTICATED, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const plan = await getPlan(app.db, caller.cityId, request.params.id)
    if (plan === undefined) throw notFound(PLAN_WORD)
    return await createOne(app, request, reply, goalImports(plan.id), {
      location: (id) => `/v1/goals/${id}`,
      read: async (db, id) => await getGoal(db, caller.cityId, id),
      present: toGoal
    })
  })

  app.post('/:id/import', {
    bodyLimit: BATCH_BODY_LIMIT,
    schema: {
      operationId: 'importActionPlan',
      tags: [TAG],
      summary: 'Import a plan\'s tree from a spreadsheet: goals, objectives and actions by external_id',
      description: 'Upserts every goal, objective and action on its `external_id` (unique in the plan), so that importing the same spreadsheet ' +
        'again updates, never duplicates: what is unchanged is answered `unchanged`; a node moved under another parent is updated. Fields a ' +
        'node omits keep their stored values (a JSON Merge Patch, as for every import); an explicit null clears one. Owners and partners may ' +
        'be named by stakeholder `external_id` (`owner_external_id`, `partner_external_ids`). Nodes the spreadsheet no longer holds are left ' +
        'as they are. All or nothing: a rejected node (each is answered with its problems) rejects the import with a 422 and nothing is ' +
        `written. \`dry_run=true\` answers the outcomes and writes nothing. At most ${IMPORT_MAX_ACTIONS} actions. It answers what is stored under ` +
        'each external_id, so it needs the read scope besides the write one; naming stakeholders by external_id needs `stakeholders:read`.',
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      querystring: ActionPlanImportQuery,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(PlanImportSchema),
      response: { 200: ref(PlanImportResultSchema), ...problemResponses(...AUTHENTICATED, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const dryRun = request.query.dry_run ?? false
    const tree = flatten(request.body)
    let payload = ''
    await app.db.transaction(async (tx) => {
      const plan = await getPlan(tx, caller.cityId, request.params.id)
      if (plan === undefined) throw notFound(PLAN_WORD)
      const result = await importTree(tx, caller, actorOf(request), plan, tree, dryRun)
      const rejected = [...result.goals, ...result.objectives, ...result.actions].filter((item) => item.outcome === 'rejected')
      if (!dryRun && rejected.length > 0) {
        throw new ProblemError('unprocessable', `${rejected.length} nodes of the plan are invalid; nothing was written.`, { errors: rejected.flatMap((item) => item.problems).slice(0, 100) })
      }
      payload = await reply.answerWithin(tx, result)
    })
    return await reply.send(payload as never)
  })

  /** Imports the three levels in turn, in the caller's transaction: each level's ids place the next one's nodes. */
  async function importTree (tx: Executor, caller: Caller, actor: AuditActor, plan: PlanRow, tree: Flat, dryRun: boolean): Promise<ImportAnswer> {
    async function level<B extends JsonObject, R extends StoredRecord, D> (resource: Importable<B, R, D, never>, nodes: Array<Node<B>>): Promise<ItemOutcome[]> {
      const outcomes: ItemOutcome[] = []
      const placed: Array<{ index: number, node: Node<B> }> = []
      nodes.forEach((node, index) => {
        if (node.parent === null) {
          outcomes[index] = { index, id: null, external_id: resource.externalIdOf(node.body), outcome: 'rejected', problems: [{ path: `/${node.path}`, message: 'is under a node that was rejected' }] }
        } else {
          placed.push({ index, node })
        }
      })
      if (placed.length > 0) {
        const result = await importItems(app, caller, actor, resource, placed.map((p) => p.node.body), {
          requireKey: true, atomic: false, dryRun, rejectedAs: 'unprocessable', pathOf: (i) => (placed[i] as { node: Node<B> }).node.path, db: tx
        })
        result.items.forEach((item, i) => {
          const index = (placed[i] as { index: number }).index
          outcomes[index] = { ...item, index }
        })
      }
      return outcomes
    }
    /** The id of each imported node, for its children: a node a dry run would create gets a stand-in. */
    const idsOf = (outcomes: ItemOutcome[]): Array<string | null> => outcomes.map((o) => o.outcome === 'rejected' ? null : o.id ?? newId())

    const goals = await level(goalImports(plan.id), tree.goals)
    const goalIds = idsOf(goals)
    const objectives = await level(objectiveImports(plan.id), tree.objectives.map((o) => {
      const parent = goalIds[o.parentIndex] ?? null
      return { ...o, parent, body: parent === null ? o.body : { ...o.body, goal_id: parent } }
    }))
    const objectiveIds = idsOf(objectives)
    const actions = await level(actionImports(plan.id, plan.currency), tree.actions.map((a) => {
      const parent = objectiveIds[a.parentIndex] ?? null
      return { ...a, parent, body: parent === null ? a.body : { ...a.body, objective_id: parent } }
    }))
    return { dry_run: dryRun, summary: summaryOf([...goals, ...objectives, ...actions]), goals, objectives, actions }
  }
}

const PLAN_WORD = 'plan'

interface Node<B> { body: B, path: string, parentIndex: number, parent?: string | null }
interface Flat { goals: Array<Node<GoalItem>>, objectives: Array<Node<ObjectiveItem>>, actions: Array<Node<ActionItem>> }
interface ImportAnswer { dry_run: boolean, summary: ReturnType<typeof summaryOf>, goals: ItemOutcome[], objectives: ItemOutcome[], actions: ItemOutcome[] }

/** The tree as three levels of import items, depth first, each with its path in the request and its parent's index. */
function flatten (body: PlanImport): Flat {
  const flat: Flat = { goals: [], objectives: [], actions: [] }
  // A node takes its place among its siblings from the spreadsheet's order, unless it names one.
  body.goals.forEach(({ objectives, ...goal }, g) => {
    flat.goals.push({ body: { position: g, ...goal }, path: `body/goals/${g}`, parentIndex: -1, parent: '' })
    ;(objectives ?? []).forEach(({ actions, ...objective }, o) => {
      const objectivePath = `body/goals/${g}/objectives/${o}`
      flat.objectives.push({ body: { position: o, ...objective }, path: objectivePath, parentIndex: flat.goals.length - 1 })
      ;(actions ?? []).forEach((action, a) => {
        flat.actions.push({ body: { position: a, ...action }, path: `${objectivePath}/actions/${a}`, parentIndex: flat.objectives.length - 1 })
      })
    })
  })
  if (flat.actions.length > IMPORT_MAX_ACTIONS) {
    const problem: FieldError = { path: '/body/goals', message: `holds ${flat.actions.length} actions; at most ${IMPORT_MAX_ACTIONS} are imported at once` }
    throw new ProblemError('validation_failed', `${problem.path} ${problem.message}`, { errors: [problem] })
  }
  return flat
}

export default plansRoutes
