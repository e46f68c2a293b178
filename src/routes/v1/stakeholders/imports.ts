import type { Importable } from '../../../lib/batch.js'
import type { PersonalData } from '../../../lib/personal-data.js'
import { toStakeholderInput } from './present.js'
import { findByExternalId, organizationProblems, STAKEHOLDER_WRITES, type StakeholderRow } from './repo.js'
import { prepareStakeholder, type Contact, type StakeholderDraft } from './rules.js'
import { StakeholderInputSchema, type StakeholderInput } from './schema.js'

/** Stakeholders as the batch module imports them: keyed on external_id, as cities start from spreadsheets. */
export function stakeholderImports (contact: PersonalData<Contact>): Importable<StakeholderInput, StakeholderRow, StakeholderDraft, Contact> {
  return {
    kind: 'stakeholder',
    readScope: 'stakeholders:read',
    names: [{ scope: 'stakeholders:read', fields: ['organization_id'] }],
    schema: StakeholderInputSchema,
    keyOf: (body) => body.external_id ?? null,
    keyOfRow: (row) => row.externalId ?? '',
    externalIdOf: (body) => body.external_id ?? null,
    find: async (db, cityId, bodies) => await findByExternalId(db, cityId, bodies.map((b) => b.external_id as string)),
    toInput: toStakeholderInput,
    prepare: (input) => prepareStakeholder(input),
    references: organizationProblems,
    personal: { of: (draft) => draft.contact, data: contact, fields: ['contact'] },
    table: STAKEHOLDER_WRITES,
    auditDetails: (row) => ({ category: row.draft.category })
  }
}
