import { sql, type SQL } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { textArrayLiteral, type Executor } from '../db/client.js'
import { newId } from './ids.js'
import { changedPaths, isWithin, patchedPaths, type JsonObject } from './merge-patch.js'

export interface AuditActor { type: 'api_key' | 'cli' | 'system', keyId: string | null, requestId: string | null }

export interface AuditEntry {
  action: string
  objectType: string
  objectId: string
  /** Field names, ids and settings only: never a value that could identify a person. */
  details?: Record<string, unknown>
}

/** The API key behind a request, as an audit actor. */
export function actorOf (request: FastifyRequest): AuditActor {
  return { type: 'api_key', keyId: request.caller?.keyId ?? null, requestId: String(request.id) }
}

/** Appends to the audit trail; call it inside the transaction of the change it records. */
export async function recordAudit (db: Executor, cityId: string, actor: AuditActor, entry: AuditEntry): Promise<void> {
  await recordAudits(db, cityId, actor, [entry])
}

/**
 * Appends many entries in one statement (batch imports). The entries travel as one text[] parameter per
 * column (unnest): a VALUES list built by Drizzle's insert builder cost as much CPU as the rest of a
 * 1,000-report import.
 */
export async function recordAudits (db: Executor, cityId: string, actor: AuditActor, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return
  await db.execute(auditInsert(cityId, actor, entries))
}

/**
 * The INSERT of many audit entries. With `writtenIds` (a set of uuids, e.g. `SELECT id FROM written`), only
 * the entries of objects in it are recorded: a set-based write puts this in a CTE of its own statement, so
 * that exactly the rows it wrote are audited, with no round trip of their own.
 */
export function auditInsert (cityId: string, actor: AuditActor, entries: AuditEntry[], writtenIds?: SQL): SQL {
  const column = (value: (entry: AuditEntry) => string) => textArrayLiteral(entries.map(value))
  return sql`INSERT INTO audit_events (city_id, id, actor_type, actor_key_id, action, object_type, object_id, request_id, details)
    SELECT ${cityId}::uuid, u.id::uuid, ${actor.type}, ${actor.keyId}::uuid, u.action, u.object_type, u.object_id, ${actor.requestId}, u.details::jsonb
    FROM unnest(${column(() => newId())}::text[], ${column((e) => e.action)}::text[], ${column((e) => e.objectType)}::text[],
                ${column((e) => e.objectId)}::text[], ${column((e) => JSON.stringify(e.details ?? {}))}::text[])
      AS u(id, action, object_type, object_id, details)
    ${writtenIds !== undefined ? sql`WHERE u.object_id::uuid IN (${writtenIds})` : sql``}`
}

/**
 * What an update's audit event says of its fields. The public fields it changed are named (with `before` and
 * `after`, the fields whose values differ; else the fields the patch set or removed). Personal fields are never
 * named, and whether they changed is never told: comparing them would make the trail an oracle of what they
 * hold. The event says only whether the write carried any, which depends on the request alone.
 */
export function changedFields (sent: JsonObject, personalFields: readonly string[], before?: JsonObject, after?: JsonObject): { fields: string[], personal_fields_sent?: boolean } {
  const named = before !== undefined && after !== undefined ? changedPaths(before, after) : patchedPaths(sent)
  if (personalFields.length === 0) return { fields: named }
  return {
    fields: named.filter((path) => !isWithin(path, personalFields)),
    personal_fields_sent: patchedPaths(sent).some((path) => isWithin(path, personalFields))
  }
}
