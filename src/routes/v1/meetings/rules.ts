import type { FieldError } from '../../../lib/problems.js'
import { EARLIEST_DAY, type MeetingInput } from './schema.js'

/** A validated meeting, ready to be stored with its attendees. */
export interface MeetingDraft {
  externalId: string | null
  heldOn: string
  title: string
  kind: string
  topics: string[]
  notes: string | null
  attendeeIds: string[]
}

/** The problem of a day before the earliest one a meeting may name, or null. */
export function dayProblem (path: string, value: string | null | undefined): FieldError | null {
  return value != null && value < EARLIEST_DAY ? { path, message: `must be on or after ${EARLIEST_DAY}` } : null
}

/**
 * Applies the rules to a schema-valid meeting (a new one, or a stored one with a change merged in). That
 * every attendee is a stakeholder of the city is checked against the database, for all of them at once.
 */
export function prepareMeeting (input: MeetingInput): { draft: MeetingDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problem = dayProblem('/held_on', input.held_on)
  if (problem !== null) return { draft: null, problems: [problem] }
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      heldOn: input.held_on,
      title: input.title,
      kind: input.kind,
      topics: input.topics ?? [],
      notes: input.notes ?? null,
      // Ids are stored in their canonical lower case; one stakeholder written twice in two cases is one attendee.
      attendeeIds: [...new Set((input.attendee_ids ?? []).map((id) => id.toLowerCase()))].sort()
    }
  }
}
