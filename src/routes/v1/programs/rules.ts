import type { FieldError } from '../../../lib/problems.js'
import type { ProgramInput } from './schema.js'

/** A validated program, ready to be stored. */
export interface ProgramDraft {
  externalId: string | null
  name: string
  description: string | null
  providerId: string | null
  serviceTypes: string[]
  languages: string[]
  neighborhoods: string[]
  eligibility: string | null
  publicEmail: string | null
  publicPhone: string | null
  url: string | null
  active: boolean
}

/**
 * Applies the rules to a schema-valid program (a new one, or a stored one with a change merged in). The
 * schema says all a program must be; that its provider is a stakeholder of the city is checked for every
 * item of a request at once (repo.ts `providerProblems`).
 */
export function prepareProgram (input: ProgramInput): { draft: ProgramDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      name: input.name,
      description: input.description ?? null,
      // Ids are kept in their canonical lower case, as the database returns them.
      providerId: input.provider_id?.toLowerCase() ?? null,
      serviceTypes: input.service_types ?? [],
      languages: input.languages ?? [],
      neighborhoods: input.neighborhoods ?? [],
      eligibility: input.eligibility ?? null,
      publicEmail: input.public_email ?? null,
      publicPhone: input.public_phone ?? null,
      url: input.url ?? null,
      active: input.active ?? true
    }
  }
}
