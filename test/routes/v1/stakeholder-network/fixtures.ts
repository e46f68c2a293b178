import type { Db } from '../../../../src/db/client.js'
import { meetingAttendees, meetings, RELATIONSHIP_TYPES, stakeholderRelationships } from '../../../../src/db/schema/index.js'
import { newId } from '../../../../src/lib/ids.js'

const HASH = '0'.repeat(64)

/** A relationship between two stakeholders, written straight to its table. */
export async function makeRelationship (db: Db, cityId: string, fromId: string, toId: string,
  options: { type?: typeof RELATIONSHIP_TYPES[number], strength?: number, since?: string, until?: string } = {}): Promise<{ id: string }> {
  const id = newId()
  await db.insert(stakeholderRelationships).values({
    cityId, id, fromId, toId, type: options.type ?? 'collaboration', strength: options.strength ?? 3, since: options.since ?? null, until: options.until ?? null, contentHash: HASH
  })
  return { id }
}

/** A meeting held on a day, with the stakeholders who came, written straight to its tables. */
export async function makeMeeting (db: Db, cityId: string, heldOn: string, attendeeIds: string[]): Promise<{ id: string }> {
  const id = newId()
  await db.insert(meetings).values({ cityId, id, heldOn, title: `Meeting of ${heldOn}`, kind: 'leadership_group', contentHash: HASH })
  if (attendeeIds.length > 0) await db.insert(meetingAttendees).values(attendeeIds.map((stakeholderId) => ({ cityId, meetingId: id, stakeholderId })))
  return { id }
}

/** The day `days` days after `day` (before, when negative), as YYYY-MM-DD. */
export function addDays (day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)
}
