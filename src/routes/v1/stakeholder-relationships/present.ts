import type { RelationshipRow } from './repo.js'
import type { Relationship, RelationshipInput } from './schema.js'

/** The wire form of a relationship. */
export function toRelationship (row: RelationshipRow): Relationship {
  return {
    id: row.id,
    external_id: row.externalId,
    from_id: row.fromId,
    to_id: row.toId,
    type: row.type as Relationship['type'],
    strength: row.strength,
    since: row.since,
    until: row.until,
    notes: row.notes,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

/** A stored relationship as the input that would produce it, so that an import or a PATCH can be merged into it. */
export function toInput (row: RelationshipRow): RelationshipInput {
  const input: RelationshipInput = { from_id: row.fromId, to_id: row.toId, type: row.type as RelationshipInput['type'], strength: row.strength }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.since !== null) input.since = row.since
  if (row.until !== null) input.until = row.until
  if (row.notes !== null) input.notes = row.notes
  return input
}
