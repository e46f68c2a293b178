import { and, eq, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { meetings } from '../../../db/schema/index.js'
import { allColumnsOf, decodeRow } from '../../../lib/bulk-upsert.js'
import type { Reference } from '../../../lib/references.js'
import type { MeetingDraft } from './rules.js'
import type { MeetingListFilter } from './schema.js'

/** A meeting as read: its row and who came (meeting_attendees). */
export type MeetingRow = typeof meetings.$inferSelect & { attendeeIds: string[] }

/** Where meetings point at stakeholders: a stakeholder who attended a meeting is archived, not deleted. */
export const MEETING_STAKEHOLDER_REFERENCES: Reference[] = [
  { what: 'meeting attendance', table: 'meeting_attendees', column: 'stakeholder_id' }
]

/** Who came, in the same row, in the order of their ids. */
const ATTENDEES = sql.raw(`(SELECT coalesce(jsonb_agg(a.stakeholder_id ORDER BY a.stakeholder_id), '[]'::jsonb)
  FROM meeting_attendees a WHERE a.city_id = meetings.city_id AND a.meeting_id = meetings.id) AS attendee_ids`)
const COLUMNS = sql`${allColumnsOf(meetings)}, ${ATTENDEES}`

const decode = (raw: Record<string, unknown>): MeetingRow => ({
  ...decodeRow<typeof meetings.$inferSelect>(meetings, raw),
  attendeeIds: (typeof raw.attendee_ids === 'string' ? JSON.parse(raw.attendee_ids) : raw.attendee_ids ?? []) as string[]
})

export async function getMeeting (db: Executor, cityId: string, id: string): Promise<MeetingRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM meetings WHERE meetings.city_id = ${cityId} AND meetings.id = ${id}`)
  return row === undefined ? undefined : decode(row)
}

/** The meeting holding an external_id, if any. */
export async function meetingIdByExternalId (db: Executor, cityId: string, externalId: string): Promise<string | undefined> {
  const [row] = await db.select({ id: meetings.id }).from(meetings).where(and(eq(meetings.cityId, cityId), eq(meetings.externalId, externalId))).limit(1)
  return row?.id
}

/** The positions of the ids that are no stakeholder of the city, in one query for the whole list. */
export async function unknownStakeholders (db: Executor, cityId: string, ids: string[]): Promise<number[]> {
  if (ids.length === 0) return []
  const rows = await query<{ position: number }>(db, sql`SELECT (u.position - 1)::int AS position
    FROM unnest(${textArrayLiteral(ids)}::uuid[]) WITH ORDINALITY AS u(id, position)
    WHERE NOT EXISTS (SELECT 1 FROM stakeholders s WHERE s.city_id = ${cityId} AND s.id = u.id)
    ORDER BY 1`)
  return rows.map((r) => Number(r.position))
}

const draftColumns = (d: MeetingDraft) => ({ heldOn: d.heldOn, title: d.title, kind: d.kind, topics: d.topics, notes: d.notes })

/** Inserts a meeting; undefined when its external_id is already taken in the city. */
export async function insertMeeting (db: Executor, cityId: string, row: { id: string, draft: MeetingDraft, contentHash: string }): Promise<typeof meetings.$inferSelect | undefined> {
  const [inserted] = await db.insert(meetings).values({ cityId, id: row.id, externalId: row.draft.externalId, contentHash: row.contentHash, ...draftColumns(row.draft) })
    .onConflictDoNothing({ target: [meetings.cityId, meetings.externalId] }).returning()
  return inserted
}

/** Rewrites a meeting after a PATCH, if it is still at `version`. */
export async function updateMeeting (db: Executor, cityId: string, version: number, id: string, draft: MeetingDraft): Promise<typeof meetings.$inferSelect | undefined> {
  const [updated] = await db.update(meetings).set({ ...draftColumns(draft), version: sql`${meetings.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(meetings.cityId, cityId), eq(meetings.id, id), eq(meetings.version, version))).returning()
  return updated
}

/**
 * Makes the attendees of a meeting exactly `ids`, set-based: those no longer listed removed, the new ones
 * added, in two statements whatever the number. Run inside the write's transaction.
 */
export async function replaceAttendees (db: Executor, cityId: string, meetingId: string, ids: string[]): Promise<void> {
  const list = textArrayLiteral(ids)
  await db.execute(sql`DELETE FROM meeting_attendees WHERE city_id = ${cityId} AND meeting_id = ${meetingId} AND NOT (stakeholder_id = ANY(${list}::uuid[]))`)
  if (ids.length === 0) return
  await db.execute(sql`INSERT INTO meeting_attendees (city_id, meeting_id, stakeholder_id)
    SELECT ${cityId}::uuid, ${meetingId}::uuid, u.id FROM unnest(${list}::uuid[]) AS u(id)
    ON CONFLICT DO NOTHING`)
}

/** Deletes a meeting; its attendance goes with it (ON DELETE CASCADE). */
export async function deleteMeeting (db: Executor, cityId: string, id: string): Promise<boolean> {
  const deleted = await db.delete(meetings).where(and(eq(meetings.cityId, cityId), eq(meetings.id, id))).returning({ id: meetings.id })
  return deleted.length === 1
}

export interface MeetingPosition { heldOn: string, id: string }

/** One page of meetings, newest first, walking the index on (city, held_on desc, id desc). */
export async function listMeetings (db: Executor, cityId: string, filter: MeetingListFilter & { limit: number }, after: MeetingPosition | undefined): Promise<MeetingRow[]> {
  const conditions: Array<SQL | undefined> = [
    eq(meetings.cityId, cityId),
    filter.held_from !== undefined ? sql`${meetings.heldOn} >= ${filter.held_from}::date` : undefined,
    filter.held_to !== undefined ? sql`${meetings.heldOn} <= ${filter.held_to}::date` : undefined,
    filter.kind !== undefined ? eq(meetings.kind, filter.kind) : undefined,
    filter.stakeholder_id !== undefined
      ? sql`EXISTS (SELECT 1 FROM meeting_attendees a WHERE a.city_id = ${meetings.cityId} AND a.meeting_id = ${meetings.id} AND a.stakeholder_id = ${filter.stakeholder_id}::uuid)`
      : undefined,
    after !== undefined ? sql`(${meetings.heldOn}, ${meetings.id}) < (${after.heldOn}::date, ${after.id}::uuid)` : undefined
  ]
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM meetings WHERE ${and(...conditions)}
    ORDER BY ${meetings.heldOn} DESC NULLS LAST, ${meetings.id} DESC NULLS LAST LIMIT ${filter.limit + 1}`)
  return rows.map(decode)
}
