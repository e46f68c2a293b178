import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import { bearer } from '../../../helper.js'

/** A planner's key: plans, and the stakeholders, programs and KPIs its actions name. */
export const WRITER = ['plans:write', 'plans:read', 'stakeholders:read', 'kpis:read'] as const

type Body = Record<string, unknown>

export async function send (app: FastifyInstance, key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method, url, headers: { ...bearer(key), ...headers }, ...(payload !== undefined ? { payload: payload as object } : {}) })
}

async function created (res: LightMyRequestResponse): Promise<Record<string, any>> {
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

export const plan = (overrides: Body = {}): Body => ({
  title: 'Stamford prevention framework 2025–2027',
  vision: 'A city where every resident is safe from hate and belongs.',
  period_start: '2025-01-01',
  period_end: '2027-12-31',
  currency: 'USD',
  ...overrides
})

export async function createPlan (app: FastifyInstance, key: string, body: Body = plan()): Promise<Record<string, any>> {
  return await created(await send(app, key, 'POST', '/v1/action-plans', body))
}

export async function createGoal (app: FastifyInstance, key: string, planId: string, body: Body = {}): Promise<Record<string, any>> {
  return await created(await send(app, key, 'POST', `/v1/action-plans/${planId}/goals`, { title: 'Residents report hate safely', ...body }))
}

export async function createObjective (app: FastifyInstance, key: string, goalId: string, body: Body = {}): Promise<Record<string, any>> {
  return await created(await send(app, key, 'POST', `/v1/goals/${goalId}/objectives`, { title: 'A reporting mechanism in four languages', ...body }))
}

export async function createAction (app: FastifyInstance, key: string, objectiveId: string, body: Body = {}): Promise<Record<string, any>> {
  return await created(await send(app, key, 'POST', `/v1/objectives/${objectiveId}/actions`, { title: 'Publish the report form', ...body }))
}

export async function getTree (app: FastifyInstance, key: string, planId: string): Promise<Record<string, any>> {
  const res = await send(app, key, 'GET', `/v1/action-plans/${planId}`)
  if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}: ${res.body}`)
  return res.json()
}

/** Sets the city's timezone before its key's first request (the key's settings are read with it, then kept). */
export async function setTimezone (db: Db, cityId: string, timezone: string): Promise<void> {
  await query(db, sql`UPDATE cities SET timezone = ${timezone} WHERE id = ${cityId}`)
}

export async function countRows (db: Db, table: 'action_plans' | 'goals' | 'objectives' | 'actions' | 'action_updates', cityId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${sql.raw(table)} WHERE city_id = ${cityId}`)
  return row?.n ?? -1
}

/** The calendar day `days` after a YYYY-MM-DD day. */
export function addDays (day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() + days)
  return date.toISOString().slice(0, 10)
}
