import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TSchema } from 'typebox'
import type { Executor } from '../db/client.js'
import { callerOf } from '../plugins/auth.js'
import { actorOf, recordAudit } from './audit.js'
import { etagOf } from './etag.js'
import { notFound } from './problems.js'
import { refuseDeleteIfReferenced, type Reference } from './references.js'
import { AUTHENTICATED, IdParams, NoContent, problemResponses, withEtag } from './schemas.js'

/** What every route of a resource's record says of itself in the contract. */
export interface RouteWords {
  operationId: string
  tag: string
  summary: string
  description: string
  scope: string
  /** The record's kind in audit events (`stakeholder_relationship`). */
  kind: string
  /** The record in the problems' words (`stakeholder relationship`); the kind by default. */
  what?: string
}

interface Versioned { id: string, version: number }

/**
 * Registers `GET <prefix>/:id`: the record of the caller's city, with its ETag for PATCH; 404 for an id of no
 * record, or of another city's. `present` may look at the request (a personal part shown only with its scope).
 */
export function registerReadRoute<R extends Versioned> (app: FastifyInstance, route: RouteWords & {
  response: TSchema
  read: (db: Executor, cityId: string, id: string) => Promise<R | undefined>
  present: (row: R, request: FastifyRequest) => unknown
}): void {
  app.get('/:id', {
    schema: {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: route.description,
      security: [{ bearer: [route.scope] }],
      params: IdParams,
      response: { 200: withEtag(route.response), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const row = await route.read(app.db, callerOf(request).cityId, id)
    if (row === undefined) throw notFound(route.what ?? route.kind)
    reply.header('etag', etagOf(row.id, row.version))
    return await route.present(row, request)
  })
}

/**
 * Registers `DELETE <prefix>/:id`: in one transaction, 404 when there is no such record in the city, 409 naming
 * what still refers to it (`references`), then the deletion and its audit event. `remove` answers false when
 * nothing was deleted, or the details the audit event keeps of what was.
 */
export function registerDeleteRoute (app: FastifyInstance, route: RouteWords & {
  /** The scope that reads the record: needed besides the write one, since the answer tells what is stored. */
  readScope: string
  references?: Reference[]
  /** What to do instead when others refer to the record; archiving with `{"active": false}` by default. */
  instead?: string
  remove: (tx: Executor, cityId: string, id: string) => Promise<boolean | Record<string, unknown>>
}): void {
  const references = route.references ?? []
  app.delete('/:id', {
    schema: {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: route.description,
      security: [{ bearer: [route.scope, route.readScope] }],
      params: IdParams,
      response: { 204: NoContent('Deleted.'), ...problemResponses(...AUTHENTICATED, 404, ...(references.length > 0 ? [409] as const : [])) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { cityId } = caller
    const { id } = request.params as { id: string }
    await app.db.transaction(async (tx) => {
      // The check runs first, so that a record referred to answers 409 rather than a foreign-key error.
      await refuseDeleteIfReferenced(tx, caller, id, route.what ?? route.kind, references, ...(route.instead !== undefined ? [route.instead] : []))
      const removed = await route.remove(tx, cityId, id)
      if (removed === false) throw notFound(route.what ?? route.kind)
      await recordAudit(tx, cityId, actorOf(request), {
        action: `${route.kind}.deleted`, objectType: route.kind, objectId: id, ...(removed === true ? {} : { details: removed })
      })
    })
    return await reply.code(204).send(null)
  })
}
