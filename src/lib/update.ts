import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Db, Tx } from '../db/client.js'
import { callerOf } from '../plugins/auth.js'
import { actorOf, changedFields, recordAudit, type AuditEntry } from './audit.js'
import { etagOf, expectedVersion, stale } from './etag.js'
import type { JsonObject } from './merge-patch.js'
import { notFound } from './problems.js'

export interface Versioned { id: string, version: number }

export interface VersionedUpdate<R extends Versioned> {
  /** What the object is called in a 404: "incident", "city". */
  what: string
  /** The audit event's object type and action. */
  objectType: string
  action: (current: R) => string
  /** Reads the object in the transaction; undefined answers 404. */
  read: (tx: Tx) => Promise<R | undefined>
  /**
   * Applies the merge patch (lib/merge-patch) and the resource's rules to `current`, and writes the result
   * only if the object is still at `current.version`; undefined when it moved on (answered 412). Throws the
   * problem of a refused change.
   */
  write: (tx: Tx, current: R) => Promise<R | undefined>
  /** Audit details besides the patched field names: names and ids only, never a value. */
  details?: (current: R, written: R) => Record<string, unknown>
  /** The patch's personal fields (dotted paths), which the audit event never names (lib/audit changedFields). */
  personalFields?: readonly string[]
}

/**
 * The one way a PATCH changes a stored object: in a transaction, read it, check `If-Match` against its
 * version (missing: 428; another version: 412), apply the JSON Merge Patch, write it if it is still at that
 * version (else 412), and record one audit event naming the fields it set or removed. The answer carries the
 * new ETag.
 */
export async function updateVersioned<R extends Versioned> (db: Db, request: FastifyRequest, reply: FastifyReply, update: VersionedUpdate<R>): Promise<R> {
  const patch = request.body as JsonObject
  const written = await db.transaction(async (tx) => {
    const current = await update.read(tx)
    if (current === undefined) throw notFound(update.what)
    const version = expectedVersion(request, current.id)
    if (version !== '*' && version !== current.version) throw stale()
    const row = await update.write(tx, current)
    if (row === undefined) throw stale()
    const entry: AuditEntry = {
      action: update.action(current),
      objectType: update.objectType,
      objectId: current.id,
      details: { ...changedFields(patch, update.personalFields ?? []), ...update.details?.(current, row) }
    }
    await recordAudit(tx, callerOf(request).cityId, actorOf(request), entry)
    return row
  })
  reply.header('etag', etagOf(written.id, written.version))
  return written
}
