import Type, { type Static } from 'typebox'
import { RELATIONSHIP_TYPES } from '../../../db/schema/index.js'
import { DateOnly, Int, Nullable, OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

/** The oldest day a tie may be dated from; checked by the rules, so that no day PostgreSQL cannot hold reaches it. */
export const EARLIEST_DAY = '1900-01-01'

const StakeholderExternalId = (end: string) => Type.String({
  minLength: 1,
  maxLength: 200,
  description: `The ${end} end named by the stakeholder's external_id (the id in the city's spreadsheet), instead of ${end}_id.`
})

const fields = {
  from_id: Uuid({ description: 'One end of the tie: a stakeholder of the same city. For referral and funding, the one who refers or funds.' }),
  to_id: Uuid({ description: 'The other end: another stakeholder of the same city.' }),
  type: Type.Enum(RELATIONSHIP_TYPES, { description: 'collaboration, trust, referral, funding or communication.' }),
  strength: Int({ minimum: 1, maximum: 5, description: '1 (weak) to 5 (strong); 3 when not given.' }),
  since: DateOnly({ description: `When the tie began, from ${EARLIEST_DAY}.` }),
  until: DateOnly({ description: 'When the tie ended (on or after since). A tie whose until is in the past is no longer active.' }),
  notes: Type.String({ maxLength: 4000 })
}

export const RelationshipInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id in the city\'s own spreadsheet; unique in the city. Sent again, it updates the relationship.' })),
  from_id: Type.Optional(fields.from_id),
  from_external_id: Type.Optional(StakeholderExternalId('from')),
  to_id: Type.Optional(fields.to_id),
  to_external_id: Type.Optional(StakeholderExternalId('to')),
  type: fields.type,
  strength: Type.Optional(fields.strength),
  since: Type.Optional(Nullable(fields.since)),
  until: Type.Optional(Nullable(fields.until)),
  notes: Type.Optional(Nullable(fields.notes))
}, {
  $id: 'StakeholderRelationshipInput',
  additionalProperties: false,
  description: 'A tie between two stakeholders of the same city. Name each end by its id (`from_id`, `to_id`) or, as a spreadsheet does, by the ' +
    'stakeholder\'s external_id (`from_external_id`, `to_external_id`); an end that names no stakeholder of the city is refused. A relationship ' +
    'with an `external_id` is an import: sent again, it updates the stored one as a JSON Merge Patch would — fields it omits keep their stored ' +
    'values; an explicit null clears since, until or notes.'
})

export const RelationshipPatchSchema = Type.Object({
  from_id: Type.Optional(fields.from_id),
  to_id: Type.Optional(fields.to_id),
  type: Type.Optional(fields.type),
  strength: Type.Optional(fields.strength),
  since: Type.Optional(Nullable(fields.since)),
  until: Type.Optional(Nullable(fields.until)),
  notes: Type.Optional(Nullable(fields.notes))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): only the fields given change, and null removes since, until or notes. End a tie by setting `until`.'
})

export const RelationshipSchema = Type.Object({
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  from_id: Uuid(),
  to_id: Uuid(),
  type: fields.type,
  strength: Int({ minimum: 1, maximum: 5 }),
  since: OrNull(DateOnly()),
  until: OrNull(DateOnly()),
  notes: OrNull(Type.String({ maxLength: 4000 })),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'StakeholderRelationship', additionalProperties: false })

export const RelationshipListQuery = Type.Object({
  ...PageQuery,
  stakeholder_id: Type.Optional(Uuid({ description: 'Only ties with this stakeholder at either end.' })),
  type: Type.Optional(fields.type),
  active: Type.Optional(Type.Boolean({ description: 'true: only ties without an until in the past (in the city\'s timezone); false: only ties that ended.' })),
  updated_since: Type.Optional(Timestamp({ description: 'Only relationships changed at or after this time.' })),
  order: Type.Optional(Type.Enum(['created_desc', 'updated_asc'], {
    default: 'created_desc',
    description: 'created_desc: newest first. updated_asc: the change feed, as for incidents: in the order changes were committed, never ' +
      'skipping one; a changed relationship appears again, later in the feed; its last page has a `next_cursor` too, to ask again later.'
  }))
}, { additionalProperties: false })

export type RelationshipInput = Static<typeof RelationshipInputSchema>
export type RelationshipPatch = Static<typeof RelationshipPatchSchema>
export type Relationship = Static<typeof RelationshipSchema>
export type RelationshipListFilter = Static<typeof RelationshipListQuery>
