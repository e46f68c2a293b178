import { applyMergePatch } from '../../../lib/merge-patch.js'
import type { FieldError } from '../../../lib/problems.js'
import { EARLIEST_DAY, type RelationshipInput } from './schema.js'

/**
 * A validated relationship, ready to be stored. An end named by a stakeholder's external_id has no id yet:
 * the look-up of every item's ends in one query (repo.ts `resolveEnds`) fills it in, or refuses the item.
 */
export interface RelationshipDraft {
  externalId: string | null
  fromId: string | null
  toId: string | null
  fromExternalId: string | null
  toExternalId: string | null
  type: string
  strength: number
  since: string | null
  until: string | null
  notes: string | null
}

export const DEFAULT_STRENGTH = 3

/**
 * A stored relationship (as input) with an import merged in, as a JSON Merge Patch where naming an end by
 * external_id replaces the stored id of that end (and naming it by id replaces an external_id).
 */
export function mergeRelationship (stored: RelationshipInput, change: RelationshipInput): RelationshipInput {
  const base = { ...stored }
  if (change.from_external_id != null) delete base.from_id
  if (change.to_external_id != null) delete base.to_id
  if (change.from_id != null) delete base.from_external_id
  if (change.to_id != null) delete base.to_external_id
  return applyMergePatch(base, change)
}

/** The problem of a day before the earliest one a date may name, or null. */
export function dayProblem (path: string, value: string | null | undefined): FieldError | null {
  return value != null && value < EARLIEST_DAY ? { path, message: `must be on or after ${EARLIEST_DAY}` } : null
}

/**
 * Applies the rules to a schema-valid relationship (a new one, or a stored one with a change merged in):
 * each end named once, by id or by external_id; until on or after since. Paths are relative to the item.
 */
export function prepareRelationship (input: RelationshipInput): { draft: RelationshipDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  const ends = [['from', input.from_id, input.from_external_id], ['to', input.to_id, input.to_external_id]] as const
  for (const [end, id, externalId] of ends) {
    if (id === undefined && externalId === undefined) problems.push({ path: `/${end}_id`, message: `is required (or ${end}_external_id)` })
    if (id !== undefined && externalId !== undefined) problems.push({ path: `/${end}_external_id`, message: `give ${end}_id or ${end}_external_id, not both` })
  }
  for (const problem of [dayProblem('/since', input.since), dayProblem('/until', input.until)]) if (problem !== null) problems.push(problem)
  if (input.since != null && input.until != null && input.until < input.since) problems.push({ path: '/until', message: 'must be on or after since' })
  if (problems.length > 0) return { draft: null, problems }
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      // Ids are kept in their canonical lower case, as the database returns them.
      fromId: input.from_id?.toLowerCase() ?? null,
      toId: input.to_id?.toLowerCase() ?? null,
      fromExternalId: input.from_external_id ?? null,
      toExternalId: input.to_external_id ?? null,
      type: input.type,
      strength: input.strength ?? DEFAULT_STRENGTH,
      since: input.since ?? null,
      until: input.until ?? null,
      notes: input.notes ?? null
    }
  }
}
