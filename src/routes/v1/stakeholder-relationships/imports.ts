import type { Importable } from '../../../lib/batch.js'
import { toInput } from './present.js'
import { findByExternalId, RELATIONSHIP_WRITES, resolveEnds, type RelationshipRow } from './repo.js'
import { mergeRelationship, prepareRelationship, type RelationshipDraft } from './rules.js'
import { RelationshipInputSchema, type RelationshipInput } from './schema.js'

/** The audit's object type, and the prefix of its actions. */
export const KIND = 'stakeholder_relationship'

/**
 * Relationships as the batch module imports them: keyed on external_id, merged so that an end named anew
 * (by id or by the stakeholder's external_id) replaces the stored one, and their ends looked up for the whole
 * request in one query. They hold no personal data.
 */
export function relationshipImports (): Importable<RelationshipInput, RelationshipRow, RelationshipDraft, never> {
  return {
    kind: KIND,
    readScope: 'stakeholders:read',
    names: [{ scope: 'stakeholders:read', fields: ['from_id', 'to_id', 'from_external_id', 'to_external_id'] }],
    schema: RelationshipInputSchema,
    keyOf: (body) => body.external_id ?? null,
    keyOfRow: (row) => row.externalId ?? '',
    externalIdOf: (body) => body.external_id ?? null,
    find: async (db, cityId, bodies) => await findByExternalId(db, cityId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toInput(row),
    merge: mergeRelationship,
    prepare: (input) => prepareRelationship(input),
    references: async (db, cityId, drafts) => await resolveEnds(db, cityId, drafts),
    table: RELATIONSHIP_WRITES,
    auditDetails: (row) => ({ from_id: row.draft.fromId, to_id: row.draft.toId, type: row.draft.type })
  }
}
