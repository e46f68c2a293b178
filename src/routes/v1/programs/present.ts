import type { ProgramRow } from './repo.js'
import type { Program, ProgramInput } from './schema.js'

/** The wire form of a program. */
export function toProgram (row: ProgramRow): Program {
  return {
    id: row.id,
    external_id: row.externalId,
    name: row.name,
    description: row.description,
    provider_id: row.providerId,
    service_types: row.serviceTypes as Program['service_types'],
    languages: row.languages,
    neighborhoods: row.neighborhoods,
    eligibility: row.eligibility,
    public_email: row.publicEmail,
    public_phone: row.publicPhone,
    url: row.url,
    active: row.active,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

/** A stored program as the input that would produce it, so that an import or a PATCH can be merged into it. */
export function toInput (row: ProgramRow): ProgramInput {
  const input: ProgramInput = {
    name: row.name,
    service_types: row.serviceTypes as ProgramInput['service_types'],
    languages: row.languages,
    neighborhoods: row.neighborhoods,
    active: row.active
  }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.description !== null) input.description = row.description
  if (row.providerId !== null) input.provider_id = row.providerId
  if (row.eligibility !== null) input.eligibility = row.eligibility
  if (row.publicEmail !== null) input.public_email = row.publicEmail
  if (row.publicPhone !== null) input.public_phone = row.publicPhone
  if (row.url !== null) input.url = row.url
  return input
}
