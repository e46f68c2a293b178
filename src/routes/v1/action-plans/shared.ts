import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { Executor } from '../../../db/client.js'
import { actorOf, recordAudit } from '../../../lib/audit.js'
import { notFound, ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, NoContent, problemResponses } from '../../../lib/schemas.js'
import { callerOf } from '../../../plugins/auth.js'
import { childrenOf, deleteNode } from './repo.js'
import { CascadeQuery } from './schema.js'

export const TAG = 'action-plans'
export const READ = 'plans:read'
export const WRITE = 'plans:write'

export const IfMatch = Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) })

/** A change refused by the rules, paths relative to the body: 400. */
export const invalid = (what: string, problems: FieldError[]): ProblemError =>
  new ProblemError('validation_failed', `The change would leave the ${what} invalid.`, { errors: problems.map((p) => ({ ...p, path: `/body${p.path}` })) })

/** A body that refers to what the city does not have, or to money in another currency: 422 naming each item. */
export const unprocessable = (problems: FieldError[]): ProblemError =>
  new ProblemError('unprocessable', 'The request refers to records this city does not have, or to amounts in another currency than the plan\'s; errors lists each one.', {
    errors: problems.map((p) => ({ ...p, path: `/body${p.path}` }))
  })

/** A node that still has children, deleted without ?cascade=true. */
export function refuseChildren (kind: string, children: Record<string, number>): void {
  const named = Object.entries(children).filter(([, n]) => n > 0)
  if (named.length === 0) return
  throw new ProblemError('conflict', `This ${kind} still has ${named.map(([what, n]) => `${n} ${what}`).join(' and ')}; delete them first, or send ?cascade=true to delete them with it.`, {
    errors: [{ path: '/params/id', message: `has ${named.map(([what, n]) => `${n} ${what}`).join(' and ')}` }]
  })
}

/** Each level of the tree that has children: its table, how its children are counted, and what lies below it. */
const LEVELS = {
  plan: { table: 'action_plans', node: 'planId', below: ['goals', 'objectives', 'actions'] },
  goal: { table: 'goals', node: 'goalId', below: ['objectives', 'actions'] },
  objective: { table: 'objectives', node: 'objectiveId', below: ['actions'] }
} as const

/**
 * Registers `DELETE <prefix>/:id` for a plan, goal or objective: 404 when there is none in the city; 409 when it
 * still has children (its goals, objectives or actions) unless `?cascade=true`, which deletes them with it;
 * audited with what a cascade took along.
 */
export function registerNodeDelete (app: FastifyInstance, route: {
  level: keyof typeof LEVELS
  operationId: string
  summary: string
  description: string
  /** The node's kind in audit events, and in the problems' words. */
  kind: string
  word: string
  read: (db: Executor, cityId: string, id: string) => Promise<{ id: string, planId?: string } | undefined>
}): void {
  const level = LEVELS[route.level]
  app.delete('/:id', {
    schema: {
      operationId: route.operationId,
      tags: [TAG],
      summary: route.summary,
      description: route.description,
      security: [{ bearer: [WRITE, READ] }],
      params: IdParams,
      querystring: CascadeQuery,
      response: { 204: NoContent('Deleted.'), ...problemResponses(...AUTHENTICATED, 404, 409) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const { id } = request.params as { id: string }
    const cascade = (request.query as { cascade?: boolean }).cascade ?? false
    await app.db.transaction(async (tx) => {
      const node = await route.read(tx, cityId, id)
      if (node === undefined) throw notFound(route.word)
      const children = await childrenOf(tx, cityId, { [level.node]: id })
      const direct = level.below[0]
      if (!cascade) refuseChildren(route.word, { [direct]: children[direct] })
      if (!await deleteNode(tx, cityId, level.table, id)) throw notFound(route.word)
      const below = Object.fromEntries(level.below.map((what) => [what, children[what]]))
      await recordAudit(tx, cityId, actorOf(request), {
        action: `${route.kind}.deleted`, objectType: route.kind, objectId: id, details: { ...(node.planId !== undefined ? { plan_id: node.planId } : {}), cascade, ...below }
      })
    })
    return await reply.code(204).send(null)
  })
}
