import type { Importable } from '../../../lib/batch.js'
import { toInput } from './present.js'
import { findByExternalId, PROGRAM_WRITES, providerProblems, type ProgramRow } from './repo.js'
import { prepareProgram, type ProgramDraft } from './rules.js'
import { ProgramInputSchema, type ProgramInput } from './schema.js'

/** The audit's object type, and the prefix of its actions. */
export const KIND = 'program'

/**
 * Programs as the batch module imports them: keyed on external_id, merged as a JSON Merge Patch, their
 * providers checked for the whole request in one query. They hold no personal data.
 */
export function programImports (): Importable<ProgramInput, ProgramRow, ProgramDraft, never> {
  return {
    kind: KIND,
    readScope: 'stakeholders:read',
    names: [{ scope: 'stakeholders:read', fields: ['provider_id'] }],
    schema: ProgramInputSchema,
    keyOf: (body) => body.external_id ?? null,
    keyOfRow: (row) => row.externalId ?? '',
    externalIdOf: (body) => body.external_id ?? null,
    find: async (db, cityId, bodies) => await findByExternalId(db, cityId, bodies.map((b) => b.external_id as string)),
    toInput: (row) => toInput(row),
    prepare: (input) => prepareProgram(input),
    references: async (db, cityId, drafts) => await providerProblems(db, cityId, drafts),
    table: PROGRAM_WRITES,
    auditDetails: (row) => ({ provider_id: row.draft.providerId })
  }
}
