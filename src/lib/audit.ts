import type { FastifyRequest } from 'fastify'
import type { Executor } from '../db/client.js'
import { auditEvents } from '../db/schema/index.js'
import { newId } from './ids.js'

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

/** Appends many entries in one statement (batch imports). */
export async function recordAudits (db: Executor, cityId: string, actor: AuditActor, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return
  await db.insert(auditEvents).values(entries.map((entry) => ({
    cityId,
    id: newId(),
    actorType: actor.type,
    actorKeyId: actor.keyId,
    action: entry.action,
    objectType: entry.objectType,
    objectId: entry.objectId,
    requestId: actor.requestId,
    details: entry.details ?? {}
  })))
}
