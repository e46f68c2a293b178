import Type, { type Static } from 'typebox'
import { MEETING_KINDS } from '../../../db/schema/index.js'
import { DateOnly, Int, Nullable, OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

/** The oldest day a meeting may be held on, or a filter name; checked by the routes. */
export const EARLIEST_DAY = '1900-01-01'
/** The most attendees one meeting records: a large community dialogue, far above a leadership group of 10–40. */
export const MAX_ATTENDEES = 500

const fields = {
  held_on: DateOnly({ description: `The day it was held, from ${EARLIEST_DAY}; a planned meeting may lie ahead.` }),
  title: Type.String({ minLength: 1, maxLength: 300 }),
  kind: Type.Enum(MEETING_KINDS, { description: 'leadership_group, workshop, training, community_dialogue or briefing.' }),
  attendee_ids: Type.Array(Uuid(), {
    maxItems: MAX_ATTENDEES,
    uniqueItems: true,
    description: 'The stakeholders who came, all of the same city. On PATCH, the list given replaces the whole set.'
  }),
  topics: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50, uniqueItems: true }),
  notes: Type.String({ maxLength: 10000 })
}

export const MeetingInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id in the city\'s own records; unique in the city.' })),
  held_on: fields.held_on,
  title: fields.title,
  kind: fields.kind,
  attendee_ids: Type.Optional(fields.attendee_ids),
  topics: Type.Optional(fields.topics),
  notes: Type.Optional(Nullable(fields.notes))
}, { $id: 'MeetingInput', additionalProperties: false, description: 'A convening and who came: convening has value in itself.' })

export const MeetingPatchSchema = Type.Object({
  held_on: Type.Optional(fields.held_on),
  title: Type.Optional(fields.title),
  kind: Type.Optional(fields.kind),
  attendee_ids: Type.Optional(fields.attendee_ids),
  topics: Type.Optional(Nullable(fields.topics)),
  notes: Type.Optional(Nullable(fields.notes))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): only the fields given change, and null removes topics or notes. `attendee_ids` replaces the ' +
    'whole set of attendees (`[]` records that nobody came).'
})

export const MeetingSchema = Type.Object({
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  held_on: DateOnly(),
  title: Type.String({ maxLength: 300 }),
  kind: fields.kind,
  attendee_ids: Type.Array(Uuid(), { maxItems: MAX_ATTENDEES, description: 'The stakeholders who came, in the order of their ids.' }),
  topics: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 }),
  notes: OrNull(Type.String({ maxLength: 10000 })),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Meeting', additionalProperties: false })

export const MeetingListQuery = Type.Object({
  ...PageQuery,
  held_from: Type.Optional(DateOnly({ description: `Inclusive; from ${EARLIEST_DAY}.` })),
  held_to: Type.Optional(DateOnly({ description: `Inclusive; from ${EARLIEST_DAY}.` })),
  kind: Type.Optional(fields.kind),
  stakeholder_id: Type.Optional(Uuid({ description: 'Only meetings this stakeholder attended.' }))
}, { additionalProperties: false })

export type MeetingInput = Static<typeof MeetingInputSchema>
export type MeetingPatch = Static<typeof MeetingPatchSchema>
export type Meeting = Static<typeof MeetingSchema>
export type MeetingListFilter = Static<typeof MeetingListQuery>
