import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import { bearer } from '../../../helper.js'

export type Report = Record<string, unknown>

export const uniqueId = (prefix = 'ext'): string => `${prefix}-${randomBytes(6).toString('hex')}`

/** A valid report as a partner would send it, with every personal field filled in. */
export function report (overrides: Report = {}): Report {
  return {
    source: 'ngo-a',
    external_id: uniqueId(),
    incident_type: 'bias_incident',
    bias_motivations: ['14'],
    occurred_on: '2024-03-01',
    summary: 'Flyers targeting Asian residents posted near the library.',
    location: { location_type: '57', neighborhood: 'Downtown', census_tract: '0215.02', address: '12 Elm Street', latitude: 41.053921, longitude: -73.538731 },
    ...overrides
  }
}

/** The personal fields of a report, in values that are easy to look for in raw text. */
export function personalReport (overrides: Report = {}): Report & { marker: string } {
  const marker = randomBytes(5).toString('hex')
  return {
    marker,
    ...report({
      narrative: `They shouted at me outside my home, narrative ${marker}`,
      reporter: { name: `Mei ${marker}`, email: `mei.${marker}@example.org`, phone: '+1 203 555 0187', role: 'victim' },
      location: { location_type: '57', neighborhood: 'Downtown', address: `${marker} Elm Street`, latitude: 41.053921, longitude: -73.538731 },
      ...overrides
    })
  }
}

const withoutMarker = ({ marker: _marker, ...rest }: Report): Report => rest

export async function postIncident (app: FastifyInstance, key: string, body: Report, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/incidents', headers: { ...bearer(key), ...headers }, payload: withoutMarker(body) })
}

/** Creates one incident and returns its wire form; throws when it is not created, so a test fails at its cause. */
export async function createIncident (app: FastifyInstance, key: string, body: Report = report()): Promise<Record<string, any>> {
  const res = await postIncident(app, key, body)
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function postBatch (app: FastifyInstance, key: string, items: unknown, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/incidents/batch${query}`, headers: bearer(key), payload: items as Report[] })
}

export async function getIncident (app: FastifyInstance, key: string, id: string): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/incidents/${id}`, headers: bearer(key) })
}

export async function patchIncident (app: FastifyInstance, key: string, id: string, etag: string | undefined, payload: Report): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...bearer(key) }
  if (etag !== undefined) headers['if-match'] = etag
  return await app.inject({ method: 'PATCH', url: `/v1/incidents/${id}`, headers, payload })
}

/** The current ETag of an incident. */
export async function etagOf (app: FastifyInstance, key: string, id: string): Promise<string> {
  const res = await getIncident(app, key, id)
  if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}: ${res.body}`)
  return res.headers.etag as string
}

export async function incidentCount (db: Db, cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM incidents WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

export async function auditActions (db: Db, cityId: string, objectId: string): Promise<Array<{ action: string, details: Record<string, unknown> | null }>> {
  return await query(db, sql`SELECT action, details FROM audit_events WHERE city_id = ${cityId} AND object_id = ${objectId} ORDER BY occurred_at, id`)
}
