import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import { bearer } from '../../../helper.js'

/** A meeting as the coordinator records it. */
export function meeting (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { held_on: '2024-10-15', title: 'Leadership group, fourth session', kind: 'leadership_group', topics: ['survey results', 'reporting'], notes: 'Agreed to share the survey.', ...overrides }
}

export async function postMeeting (app: FastifyInstance, key: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/meetings', headers: { ...bearer(key), ...headers }, payload: body as object })
}

export async function createMeeting (app: FastifyInstance, key: string, body: Record<string, unknown> = meeting()): Promise<Record<string, any>> {
  const res = await postMeeting(app, key, body)
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function getMeeting (app: FastifyInstance, key: string, id: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/meetings/${id}`, headers: bearer(key) })
}

export async function patchMeeting (app: FastifyInstance, key: string, id: string, etag: string | undefined, payload: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'PATCH', url: `/v1/meetings/${id}`, headers: { ...bearer(key), ...(etag !== undefined ? { 'if-match': etag } : {}) }, payload: payload as object })
}

export async function meetingCount (db: Db, cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM meetings WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

export async function attendeeCount (db: Db, cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM meeting_attendees WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

export async function auditActions (db: Db, cityId: string, objectId: string): Promise<Array<{ action: string, details: Record<string, unknown> | null }>> {
  return await query(db, sql`SELECT action, details FROM audit_events WHERE city_id = ${cityId} AND object_id = ${objectId} ORDER BY occurred_at, id`)
}
