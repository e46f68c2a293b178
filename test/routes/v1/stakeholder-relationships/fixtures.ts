import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import { bearer } from '../../../helper.js'

export const uniqueId = (prefix = 'rel'): string => `${prefix}-${randomBytes(6).toString('hex')}`

export async function postRelationship (app: FastifyInstance, key: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/stakeholder-relationships', headers: { ...bearer(key), ...headers }, payload: body as object })
}

/** Creates one relationship and returns its wire form; throws when it is not created, so a test fails at its cause. */
export async function createRelationship (app: FastifyInstance, key: string, body: Record<string, unknown>): Promise<Record<string, any>> {
  const res = await postRelationship(app, key, body)
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function postBatch (app: FastifyInstance, key: string, items: unknown, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/stakeholder-relationships/batch${query}`, headers: bearer(key), payload: items as object })
}

export async function getRelationship (app: FastifyInstance, key: string, id: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/stakeholder-relationships/${id}`, headers: bearer(key) })
}

export async function patchRelationship (app: FastifyInstance, key: string, id: string, etag: string | undefined, payload: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'PATCH', url: `/v1/stakeholder-relationships/${id}`, headers: { ...bearer(key), ...(etag !== undefined ? { 'if-match': etag } : {}) }, payload: payload as object })
}

export async function relationshipCount (db: Db, cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM stakeholder_relationships WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

export async function auditActions (db: Db, cityId: string, objectId: string): Promise<Array<{ action: string, details: Record<string, unknown> | null }>> {
  return await query(db, sql`SELECT action, details FROM audit_events WHERE city_id = ${cityId} AND object_id = ${objectId} ORDER BY occurred_at, id`)
}
