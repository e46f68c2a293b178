import type { MeetingRow } from './repo.js'
import type { Meeting, MeetingInput } from './schema.js'

/** The wire form of a meeting, with who came. */
export function toMeeting (row: MeetingRow): Meeting {
  return {
    id: row.id,
    external_id: row.externalId,
    held_on: row.heldOn,
    title: row.title,
    kind: row.kind as Meeting['kind'],
    attendee_ids: row.attendeeIds,
    topics: row.topics,
    notes: row.notes,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

/** A stored meeting as the input that would produce it, so that a PATCH can be merged into it. */
export function toInput (row: MeetingRow): MeetingInput {
  const input: MeetingInput = { held_on: row.heldOn, title: row.title, kind: row.kind as MeetingInput['kind'], attendee_ids: row.attendeeIds, topics: row.topics }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.notes !== null) input.notes = row.notes
  return input
}
