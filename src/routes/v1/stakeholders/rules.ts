import type { FieldError } from '../../../lib/problems.js'
import type { StakeholderInput } from './schema.js'

/** What only keys with stakeholders:read_contact may see; sealed as one blob per stakeholder. */
export interface Contact { email?: string, phone?: string }

/** A validated stakeholder, ready to be stored. */
export interface StakeholderDraft {
  externalId: string | null
  kind: string
  name: string
  organizationId: string | null
  title: string | null
  category: string
  portfolio: string | null
  communitiesServed: string[]
  languages: string[]
  engagementLevel: string
  leadershipRole: string | null
  leadershipJoinedOn: string | null
  leadershipLeftOn: string | null
  existingInitiatives: string[]
  tags: string[]
  active: boolean
  contact: Contact | null
}

/**
 * Applies the stakeholder rules to a schema-valid input (a new one, or a stored one with a change merged in).
 * References to other stakeholders are checked set-based afterwards (repo.ts `organizationProblems`).
 */
export function prepareStakeholder (input: StakeholderInput): { draft: StakeholderDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  if (input.organization_id != null && input.kind !== 'person') problems.push({ path: '/organization_id', message: 'is only for a person (the organisation they belong to)' })
  const group = input.leadership_group ?? null
  if (group !== null && group.role == null) problems.push({ path: '/leadership_group/role', message: 'is required for a seat in the leadership group' })
  if (group?.joined_on != null && group.left_on != null && group.left_on < group.joined_on) problems.push({ path: '/leadership_group/left_on', message: 'must not be before joined_on' })
  if (problems.length > 0) return { draft: null, problems }
  const contact: Contact = {}
  if (input.contact?.email != null) contact.email = input.contact.email
  if (input.contact?.phone != null) contact.phone = input.contact.phone
  return {
    problems: [],
    draft: {
      externalId: input.external_id ?? null,
      kind: input.kind,
      name: input.name,
      organizationId: input.organization_id ?? null,
      title: input.title ?? null,
      category: input.category,
      portfolio: input.portfolio ?? null,
      communitiesServed: input.communities_served ?? [],
      languages: input.languages ?? [],
      engagementLevel: input.engagement_level ?? 'identified',
      leadershipRole: group?.role ?? null,
      leadershipJoinedOn: group?.joined_on ?? null,
      leadershipLeftOn: group?.left_on ?? null,
      existingInitiatives: input.existing_initiatives ?? [],
      tags: input.tags ?? [],
      active: input.active ?? true,
      contact: Object.keys(contact).length > 0 ? contact : null
    }
  }
}
