import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm'
import { textArrayLiteral, type Executor } from '../../../db/client.js'
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

/**
 * The events a key limited to reporting sources may see (no limit for other keys): a partner's administrator
 * sees its own part of the trail, and learns nothing of what it may not read.
 * - An event about an incident: when the incident is of its sources, whoever acted (the history of its own
 *   records, the city's case work and personal-data reads included).
 * - An event about an API key: when that key is limited to some of its sources (a key it could have made).
 * - Any other event (stakeholders, surveys, KPIs, plans, exports, the city...): when the acting key is limited to
 *   some of its sources. What the city's own keys, the operator's command line and other partners did there is
 *   the city's trail, not the partner's.
 *
 * A condition of the list's own query, before its LIMIT: a page holds as many events, and its cursor points
 * where it would, as if the hidden events did not exist. The keys of its sources are read once per statement
 * (a hashed subplan over the city's few keys). An incident's source is read by its primary key, event by event
 * as the list walks the trail: a scalar subquery, because as EXISTS the planner may hash every incident of the
 * city instead, for each page. Inside the CASE, only incident events cast their object id to a uuid.
 */
export function visibleTo (cityId: string, sources: string[] | null): SQL | undefined {
  if (sources === null) return undefined
  const own = sql`${textArrayLiteral(sources)}::text[]`
  const ownKeys = sql`SELECT k.id FROM api_keys k WHERE k.city_id = ${cityId}::uuid AND k.sources <@ ${own}`
  return sql`(CASE ${auditEvents.objectType}
    WHEN 'incident' THEN (SELECT i.source FROM incidents i WHERE i.city_id = ${auditEvents.cityId} AND i.id = ${auditEvents.objectId}::uuid) = ANY (${own})
    WHEN 'api_key' THEN ${auditEvents.objectId} IN (SELECT k.id::text FROM (${ownKeys}) AS k)
    ELSE ${auditEvents.actorKeyId} IN (${ownKeys})
  END)`
}

/** Newest first, by time-ordered id; only the events the caller's sources let it see. */
export async function listAuditEvents (db: Executor, cityId: string, sources: string[] | null, filter: AuditEventFilter & { limit: number, before?: string }): Promise<AuditEventRow[]> {
  return await db.select().from(auditEvents).where(and(
    eq(auditEvents.cityId, cityId),
    visibleTo(cityId, sources),
    filter.before !== undefined ? lt(auditEvents.id, filter.before) : undefined,
    filter.object_type !== undefined ? eq(auditEvents.objectType, filter.object_type) : undefined,
    filter.object_id !== undefined ? eq(auditEvents.objectId, filter.object_id) : undefined,
    filter.action !== undefined ? eq(auditEvents.action, filter.action) : undefined,
    filter.actor_key_id !== undefined ? eq(auditEvents.actorKeyId, filter.actor_key_id) : undefined,
    filter.occurred_from !== undefined ? gte(auditEvents.occurredAt, new Date(filter.occurred_from)) : undefined,
    filter.occurred_to !== undefined ? lt(auditEvents.occurredAt, new Date(filter.occurred_to)) : undefined
  )).orderBy(desc(auditEvents.id)).limit(filter.limit + 1)
}

/** One event; undefined when it is not the city's, does not exist, or the caller's sources hide it. */
export async function getAuditEvent (db: Executor, cityId: string, sources: string[] | null, id: string): Promise<AuditEventRow | undefined> {
  const [row] = await db.select().from(auditEvents)
    .where(and(eq(auditEvents.cityId, cityId), eq(auditEvents.id, id), visibleTo(cityId, sources))).limit(1)
  return row
}
