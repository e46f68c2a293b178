import { sql } from 'drizzle-orm'
import type { FastifyInstance } from 'fastify'
import type { Db } from '../../../../src/db/client.js'
import { newId } from '../../../../src/lib/ids.js'
import { bearer } from '../../../helper.js'

export const kpi = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  code: `kpi-${newId().slice(-8)}`,
  name: { en: 'Reported incidents', es: 'Incidentes reportados' },
  unit: 'count',
  direction: 'decrease',
  period: 'month',
  method: 'computed',
  metric: 'incident_count',
  ...overrides
})

export async function createKpi (app: FastifyInstance, key: string, body: Record<string, unknown> = kpi()): Promise<{ id: string, [k: string]: any }> {
  const res = await app.inject({ method: 'POST', url: '/v1/kpis', headers: bearer(key), payload: body })
  if (res.statusCode !== 201) throw new Error(`createKpi answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function series (app: FastifyInstance, key: string, id: string, query: string): Promise<{ statusCode: number, json: () => any, body: string }> {
  return await app.inject({ method: 'GET', url: `/v1/kpis/${id}/series?${query}`, headers: bearer(key) })
}

export interface IncidentSpec {
  occurredOn: string
  type?: string
  categories?: string[]
  codes?: string[]
  status?: string
  neighborhood?: string | null
  online?: boolean
  includeInStatistics?: boolean
  resolution?: string | null
  /** Days after which it was referred (a referral row), or undefined for none. */
  referredOn?: string
}

/** Writes incidents straight to their table, `count` copies of each spec, in one statement. */
export async function addIncidents (db: Db, cityId: string, specs: Array<IncidentSpec & { count?: number }>): Promise<string[]> {
  const ids: string[] = []
  const referrals: Array<{ id: string, on: string }> = []
  const rows: ReturnType<typeof sql>[] = []
  for (const spec of specs) {
    for (let i = 0; i < (spec.count ?? 1); i++) {
      const id = newId()
      ids.push(id)
      if (spec.referredOn !== undefined) referrals.push({ id, on: spec.referredOn })
      rows.push(sql`(${cityId}::uuid, ${id}::uuid, 'test', ${spec.type ?? 'bias_incident'}, ${`{${(spec.codes ?? ['14']).join(',')}}`}::text[],
        ${`{${(spec.categories ?? ['race_ethnicity_ancestry']).join(',')}}`}::text[], '2023', ${spec.occurredOn}::date, now(),
        ${spec.neighborhood ?? null}, ${spec.online ?? false}, ${spec.includeInStatistics ?? true}, ${spec.status ?? 'received'},
        ${spec.resolution ?? null}, ${'0'.repeat(64)})`)
    }
  }
  if (rows.length > 0) {
    await db.execute(sql`INSERT INTO incidents (city_id, id, source, incident_type, bias_motivations, bias_categories, taxonomy_version, occurred_on,
      reported_at, neighborhood, is_online, include_in_statistics, status, resolution, content_hash) VALUES ${sql.join(rows, sql`, `)}`)
  }
  if (referrals.length > 0) {
    const program = newId()
    await db.execute(sql`INSERT INTO programs (city_id, id, name, content_hash) VALUES (${cityId}::uuid, ${program}::uuid, 'Victim support', ${'0'.repeat(64)})`)
    await db.execute(sql`INSERT INTO incident_referrals (city_id, incident_id, position, program_id, referred_on) VALUES ${sql.join(
      referrals.map((r) => sql`(${cityId}::uuid, ${r.id}::uuid, 0, ${program}::uuid, ${r.on}::date)`), sql`, `)}`)
  }
  return ids
}

export async function setCity (db: Db, cityId: string, values: { threshold?: number, population?: number | null }): Promise<void> {
  if (values.threshold !== undefined) await db.execute(sql`UPDATE cities SET small_cell_threshold = ${values.threshold} WHERE id = ${cityId}::uuid`)
  if (values.population !== undefined) await db.execute(sql`UPDATE cities SET population = ${values.population} WHERE id = ${cityId}::uuid`)
}

/** The values of a series by period label. */
export const byPeriod = (body: { data: Array<{ period: string }> }): Map<string, any> => new Map(body.data.map((p) => [p.period, p]))

/** A stakeholder as recorded on a past day: its history row is dated that day. */
export async function stakeholderSince (db: Db, cityId: string, day: string, values: { category: string, engagementLevel?: string, leadershipRole?: string | null, leadershipJoinedOn?: string | null }): Promise<string> {
  const id = newId()
  await db.execute(sql`INSERT INTO stakeholders (city_id, id, kind, name, category, engagement_level, leadership_role, leadership_joined_on, content_hash)
    VALUES (${cityId}::uuid, ${id}::uuid, 'person', ${`Stakeholder ${id.slice(-6)}`}, ${values.category}, ${values.engagementLevel ?? 'active'},
      ${values.leadershipRole ?? null}, ${values.leadershipJoinedOn ?? null}::date, ${'0'.repeat(64)})`)
  await db.execute(sql`UPDATE stakeholder_history SET recorded_on = ${day}::date WHERE city_id = ${cityId}::uuid AND stakeholder_id = ${id}::uuid`)
  return id
}

/** Changes a stakeholder as if on a past day: the history row its trigger writes is dated that day. */
export async function changeStakeholder (db: Db, cityId: string, id: string, day: string, set: { engagementLevel?: string, active?: boolean, leadershipLeftOn?: string }): Promise<void> {
  await db.execute(sql`UPDATE stakeholders SET
      engagement_level = coalesce(${set.engagementLevel ?? null}, engagement_level),
      active = coalesce(${set.active ?? null}::boolean, active),
      leadership_left_on = coalesce(${set.leadershipLeftOn ?? null}::date, leadership_left_on)
    WHERE city_id = ${cityId}::uuid AND id = ${id}::uuid`)
  await db.execute(sql`UPDATE stakeholder_history SET recorded_on = ${day}::date WHERE city_id = ${cityId}::uuid AND stakeholder_id = ${id}::uuid
    AND sequence = (SELECT max(sequence) FROM stakeholder_history WHERE city_id = ${cityId}::uuid AND stakeholder_id = ${id}::uuid)`)
}

export async function relationship (db: Db, cityId: string, from: string, to: string, values: { since?: string | null, until?: string | null, type?: string, strength?: number }): Promise<void> {
  await db.execute(sql`INSERT INTO stakeholder_relationships (city_id, id, from_id, to_id, type, strength, since, until, content_hash)
    VALUES (${cityId}::uuid, ${newId()}::uuid, ${from}::uuid, ${to}::uuid, ${values.type ?? 'collaboration'}, ${values.strength ?? 3},
      ${values.since ?? null}::date, ${values.until ?? null}::date, ${'0'.repeat(64)})`)
}

export async function meetingOn (db: Db, cityId: string, day: string, kind = 'leadership_group'): Promise<void> {
  await db.execute(sql`INSERT INTO meetings (city_id, id, held_on, title, kind, content_hash)
    VALUES (${cityId}::uuid, ${newId()}::uuid, ${day}::date, 'Working group', ${kind}, ${'0'.repeat(64)})`)
}

const HASH = '0'.repeat(64)

/** A plan with one goal and one objective, written straight to their tables. */
export async function planOf (db: Db, cityId: string): Promise<{ planId: string, objectiveId: string }> {
  const planId = newId()
  const goalId = newId()
  const objectiveId = newId()
  await db.execute(sql`INSERT INTO action_plans (city_id, id, title, currency, content_hash) VALUES (${cityId}::uuid, ${planId}::uuid, 'Prevention plan', 'USD', ${HASH})`)
  await db.execute(sql`INSERT INTO goals (city_id, id, plan_id, title, content_hash) VALUES (${cityId}::uuid, ${goalId}::uuid, ${planId}::uuid, 'Safer neighbourhoods', ${HASH})`)
  await db.execute(sql`INSERT INTO objectives (city_id, id, plan_id, goal_id, title, content_hash)
    VALUES (${cityId}::uuid, ${objectiveId}::uuid, ${planId}::uuid, ${goalId}::uuid, 'Support victims', ${HASH})`)
  return { planId, objectiveId }
}

/** An action recorded on `recordedOn` (its created_at, in UTC noon), with its progress notes and funding lines. */
export async function actionOf (db: Db, cityId: string, plan: { planId: string, objectiveId: string }, values: {
  recordedOn: string
  dueOn?: string
  notes?: Array<{ on: string, status: string }>
  funding?: Array<{ source_type: string, amount: number, secured: boolean, secured_on?: string | null }>
}): Promise<string> {
  const id = newId()
  const last = values.notes?.[values.notes.length - 1]?.status ?? 'not_started'
  await db.execute(sql`INSERT INTO actions (city_id, id, plan_id, objective_id, title, due_on, status, funding, content_hash, created_at)
    VALUES (${cityId}::uuid, ${id}::uuid, ${plan.planId}::uuid, ${plan.objectiveId}::uuid, 'An action', ${values.dueOn ?? null}::date, ${last},
      ${JSON.stringify((values.funding ?? []).map((l) => ({ currency: 'USD', funder: null, secured_on: null, ...l })))}::jsonb, ${HASH},
      ${`${values.recordedOn}T17:00:00Z`}::timestamptz)`)
  for (const note of values.notes ?? []) {
    await db.execute(sql`INSERT INTO action_updates (city_id, id, action_id, recorded_on, status, progress)
      VALUES (${cityId}::uuid, ${newId()}::uuid, ${id}::uuid, ${note.on}::date, ${note.status}, ${note.status === 'completed' ? 100 : 50})`)
  }
  return id
}

/** A survey with responses filled in on given days: each answers `question` with an option and a value. */
export async function surveyWith (db: Db, cityId: string, responses: Array<{ filledOn: string, option?: string, value?: number }>): Promise<string> {
  const surveyId = newId()
  await db.execute(sql`INSERT INTO surveys (city_id, id, title, languages, default_language, status, content_hash)
    VALUES (${cityId}::uuid, ${surveyId}::uuid, '{"en": "Living together"}', '{en}', 'en', 'open', ${HASH})`)
  for (const r of responses) {
    const id = newId()
    await db.execute(sql`INSERT INTO survey_responses (city_id, survey_id, id, language, filled_on, content_hash)
      VALUES (${cityId}::uuid, ${surveyId}::uuid, ${id}::uuid, 'en', ${r.filledOn}::date, ${HASH})`)
    if (r.option !== undefined) {
      await db.execute(sql`INSERT INTO survey_answers (city_id, survey_id, response_id, question_code, option_code)
        VALUES (${cityId}::uuid, ${surveyId}::uuid, ${id}::uuid, 'feel_safe', ${r.option})`)
    }
    if (r.value !== undefined) {
      await db.execute(sql`INSERT INTO survey_answers (city_id, survey_id, response_id, question_code, value)
        VALUES (${cityId}::uuid, ${surveyId}::uuid, ${id}::uuid, 'trust_police', ${r.value})`)
    }
  }
  return surveyId
}
