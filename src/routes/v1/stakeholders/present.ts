import { HIDDEN, personalDataState, type PersonalView } from '../../../lib/personal-data.js'
import type { StakeholderRow } from './repo.js'
import type { Contact } from './rules.js'
import type { Stakeholder, StakeholderInput } from './schema.js'

/** The wire form of a stakeholder; contact details only in a shown view (stakeholders:read_contact). */
export function toStakeholder (row: StakeholderRow, today: string, view: PersonalView<Contact> = HIDDEN): Stakeholder {
  const stakeholder: Stakeholder = {
    id: row.id,
    external_id: row.externalId,
    kind: row.kind as Stakeholder['kind'],
    name: row.name,
    organization_id: row.organizationId,
    title: row.title,
    category: row.category as Stakeholder['category'],
    leg: row.leg as Stakeholder['leg'],
    portfolio: row.portfolio,
    communities_served: row.communitiesServed,
    languages: row.languages,
    engagement_level: row.engagementLevel as Stakeholder['engagement_level'],
    leadership_group: row.leadershipRole === null
      ? null
      : {
          role: row.leadershipRole as NonNullable<Stakeholder['leadership_group']>['role'],
          joined_on: row.leadershipJoinedOn,
          left_on: row.leadershipLeftOn,
          current: row.leadershipLeftOn === null || row.leadershipLeftOn > today
        },
    existing_initiatives: row.existingInitiatives,
    tags: row.tags,
    active: row.active,
    personal_data: personalDataState(row),
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
  if (view.kind === 'shown') stakeholder.contact = view.data
  return stakeholder
}

/** A stored stakeholder as the input that would produce it, so that a change can be merged in and checked again. */
export function toStakeholderInput (row: StakeholderRow, contact: Contact | null): StakeholderInput {
  const input: StakeholderInput = {
    kind: row.kind as StakeholderInput['kind'],
    name: row.name,
    category: row.category as StakeholderInput['category'],
    communities_served: row.communitiesServed,
    languages: row.languages,
    engagement_level: row.engagementLevel as StakeholderInput['engagement_level'],
    existing_initiatives: row.existingInitiatives,
    tags: row.tags,
    active: row.active
  }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.organizationId !== null) input.organization_id = row.organizationId
  if (row.title !== null) input.title = row.title
  if (row.portfolio !== null) input.portfolio = row.portfolio
  if (row.leadershipRole !== null) {
    input.leadership_group = {
      role: row.leadershipRole as NonNullable<StakeholderInput['leadership_group']>['role'],
      ...(row.leadershipJoinedOn !== null ? { joined_on: row.leadershipJoinedOn } : {}),
      ...(row.leadershipLeftOn !== null ? { left_on: row.leadershipLeftOn } : {})
    }
  }
  if (contact !== null) input.contact = contact
  return input
}
