import { sql } from 'drizzle-orm'
import { query, type Executor } from '../../../db/client.js'
import type { EngagementLevel, Leg } from './schema.js'

/** An active stakeholder as the assessment needs it. */
export interface NetworkStakeholder {
  id: string
  name: string
  leg: Leg | null
  engagement_level: EngagementLevel
  /** A leadership-group role and no `left_on` before `asOf`. */
  in_leadership_group: boolean
}

/** One undirected tie: `a` < `b`, with the highest strength of the relationships between them. */
export interface Tie {
  a: string
  b: string
  strength: number
}

/** Who came to the meetings of a period, per leg (null: stakeholders of no leg). */
export interface LegAttendanceRow {
  leg: Leg | null
  attendances: number
  attendees: number
  meetings_attended: number
}

export interface AttendanceRows {
  meetingsHeld: number
  legs: LegAttendanceRow[]
}

/** The city's active stakeholders, one query. `asOf` is today in the city's timezone. */
export async function activeStakeholders (db: Executor, cityId: string, asOf: string): Promise<NetworkStakeholder[]> {
  return await query<NetworkStakeholder>(db, sql`
    SELECT id, name, leg, engagement_level,
      (leadership_role IS NOT NULL AND (leadership_left_on IS NULL OR leadership_left_on >= ${asOf}::date)) AS in_leadership_group
    FROM stakeholders
    WHERE city_id = ${cityId} AND active`)
}

/**
 * The ties between the city's active stakeholders, aggregated in SQL: relationships that have not ended
 * (`until` empty or not before `asOf`), of every type and in either direction, one row per pair with the
 * highest strength among them.
 */
export async function currentTies (db: Executor, cityId: string, asOf: string): Promise<Tie[]> {
  return await query<Tie>(db, sql`
    SELECT least(r.from_id, r.to_id) AS a, greatest(r.from_id, r.to_id) AS b, max(r.strength)::int AS strength
    FROM stakeholder_relationships r
    JOIN stakeholders f ON f.city_id = r.city_id AND f.id = r.from_id AND f.active
    JOIN stakeholders t ON t.city_id = r.city_id AND t.id = r.to_id AND t.active
    WHERE r.city_id = ${cityId} AND (r.until IS NULL OR r.until >= ${asOf}::date)
    GROUP BY 1, 2`)
}

/**
 * The meetings held from `from` to `to` (inclusive) and who of the active stakeholders came, per leg,
 * aggregated in SQL: one row for the meetings, then one per leg that came.
 */
export async function attendanceByLeg (db: Executor, cityId: string, from: string, to: string): Promise<AttendanceRows> {
  const rows = await query<{ total: boolean, leg: Leg | null, meetings: number, attendances: number, attendees: number }>(db, sql`
    WITH held AS (
      SELECT id FROM meetings WHERE city_id = ${cityId} AND held_on BETWEEN ${from}::date AND ${to}::date
    )
    SELECT true AS total, NULL::text AS leg, count(*)::int AS meetings, 0 AS attendances, 0 AS attendees FROM held
    UNION ALL
    SELECT false, s.leg, count(DISTINCT a.meeting_id)::int, count(*)::int, count(DISTINCT a.stakeholder_id)::int
    FROM held
    JOIN meeting_attendees a ON a.city_id = ${cityId} AND a.meeting_id = held.id
    JOIN stakeholders s ON s.city_id = a.city_id AND s.id = a.stakeholder_id AND s.active
    GROUP BY s.leg`)
  return {
    meetingsHeld: rows.find((r) => r.total)?.meetings ?? 0,
    legs: rows.filter((r) => !r.total).map((r) => ({ leg: r.leg, attendances: r.attendances, attendees: r.attendees, meetings_attended: r.meetings }))
  }
}
