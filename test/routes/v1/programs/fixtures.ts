import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import { bearer } from '../../../helper.js'

export const uniqueId = (prefix = 'prog'): string => `${prefix}-${randomBytes(6).toString('hex')}`

/** A program as a city's directory lists it. */
export function program (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Victim support line',
    description: 'Confidential support for people targeted because of who they are.',
    service_types: ['victim_support', 'mental_health'],
    languages: ['en', 'es'],
    neighborhoods: ['Downtown'],
    eligibility: 'Anyone living or working in the city.',
    public_email: 'help@support.example.org',
    public_phone: '+1 203 555 0100',
    url: 'https://support.example.org',
    ...overrides
  }
}

export async function postProgram (app: FastifyInstance, key: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/programs', headers: { ...bearer(key), ...headers }, payload: body as object })
}

export async function createProgram (app: FastifyInstance, key: string, body: Record<string, unknown> = program()): Promise<Record<string, any>> {
  const res = await postProgram(app, key, body)
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function postBatch (app: FastifyInstance, key: string, items: unknown, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/programs/batch${query}`, headers: bearer(key), payload: items as object })
}

export async function getProgram (app: FastifyInstance, key: string, id: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/programs/${id}`, headers: bearer(key) })
}

export async function patchProgram (app: FastifyInstance, key: string, id: string, etag: string | undefined, payload: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'PATCH', url: `/v1/programs/${id}`, headers: { ...bearer(key), ...(etag !== undefined ? { 'if-match': etag } : {}) }, payload: payload as object })
}

export async function programCount (db: Db, cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM programs WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

export async function auditActions (db: Db, cityId: string, objectId: string): Promise<Array<{ action: string, details: Record<string, unknown> | null }>> {
  return await query(db, sql`SELECT action, details FROM audit_events WHERE city_id = ${cityId} AND object_id = ${objectId} ORDER BY occurred_at, id`)
}
