import { and, desc, eq, gte, lt } from 'drizzle-orm'
import type { Executor } from '../../../db/client.js'
import { auditEvents } from '../../../db/schema/index.js'
import type { AuditEvent, AuditEventFilter } from './schema.js'

type AuditEventRow = typeof auditEvents.$inferSelect

export function toAuditEvent (row: AuditEventRow): AuditEvent {
  return {
    id: row.id,
    occurred_at: row.occurredAt.toISOString(),
    actor_type: row.actorType as AuditEvent['actor_type'],
    actor_key_id: row.actorKeyId,
    action: row.action,
    object_type: row.objectType,
    object_id: row.objectId,
    request_id: row.requestId,
    details: row.details
  }
}

/** Newest first, by time-ordered id. */
export async function listAuditEvents (db: Executor, cityId: string, filter: AuditEventFilter & { limit: number, before?: string }): Promise<AuditEventRow[]> {
  return await db.select().from(auditEvents).where(and(
    eq(auditEvents.cityId, cityId),
    filter.before !== undefined ? lt(auditEvents.id, filter.before) : undefined,
    filter.object_type !== undefined ? eq(auditEvents.objectType, filter.object_type) : undefined,
    filter.object_id !== undefined ? eq(auditEvents.objectId, filter.object_id) : undefined,
    filter.action !== undefined ? eq(auditEvents.action, filter.action) : undefined,
    filter.actor_key_id !== undefined ? eq(auditEvents.actorKeyId, filter.actor_key_id) : undefined,
    filter.occurred_from !== undefined ? gte(auditEvents.occurredAt, new Date(filter.occurred_from)) : undefined,
    filter.occurred_to !== undefined ? lt(auditEvents.occurredAt, new Date(filter.occurred_to)) : undefined
  )).orderBy(desc(auditEvents.id)).limit(filter.limit + 1)
}

export async function getAuditEvent (db: Executor, cityId: string, id: string): Promise<AuditEventRow | undefined> {
  const [row] = await db.select().from(auditEvents).where(and(eq(auditEvents.cityId, cityId), eq(auditEvents.id, id))).limit(1)
  return row
}
