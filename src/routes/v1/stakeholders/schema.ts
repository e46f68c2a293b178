import Type, { type Static } from 'typebox'
import { ENGAGEMENT_LEVELS, LEADERSHIP_ROLES, LEGS, STAKEHOLDER_CATEGORIES, STAKEHOLDER_KINDS } from '../../../db/schema/index.js'
import { DateOnly, Int, LanguageTag, Nullable, OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

const Label = (description: string) => Type.String({ minLength: 1, maxLength: 100, description })
const Labels = (description: string) => Type.Array(Label(description), { maxItems: 50, uniqueItems: true })

const LeadershipGroup = Type.Object({
  role: Type.Optional(Type.Enum(LEADERSHIP_ROLES, { description: 'chair, co_chair, member or observer of the leadership group; required for a seat (a merge patch may leave it as stored).' })),
  joined_on: Type.Optional(Nullable(DateOnly())),
  left_on: Type.Optional(Nullable(DateOnly({ description: 'When the stakeholder left the group; a member who left is no longer counted.' })))
}, { additionalProperties: false, description: 'A seat in the city-led leadership group (10-40 people); null when the stakeholder has none.' })

const Contact = Type.Object({
  email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
  phone: Type.Optional(Nullable(Type.String({ pattern: '^[0-9+().\\-\\s]{3,40}$', maxLength: 40 })))
}, { additionalProperties: false, description: 'Personal: sealed, shown only to keys with stakeholders:read_contact, and every such read audited.' })

const fields = {
  kind: Type.Enum(STAKEHOLDER_KINDS),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  organization_id: Uuid({ description: 'For a person: the organisation stakeholder they belong to, in the same city.' }),
  title: Type.String({ minLength: 1, maxLength: 200 }),
  category: Type.Enum(STAKEHOLDER_CATEGORIES, {
    description: 'The four legs of the stool first (elected_official, city_staff, community_organization, law_enforcement), then the other seats at the table. ' +
      'The leg is derived: elected ← elected_official; city_staff ← city_staff, human_rights_commission; law_enforcement ← law_enforcement; ' +
      'community ← community_organization, faith_community, social_services, youth, education, public_health, academia, business, media; ' +
      'federal_partner and other belong to no leg.'
  }),
  portfolio: Type.String({ minLength: 1, maxLength: 200, description: 'The lead\'s portfolio, e.g. DEI, anti-hate, public safety.' }),
  communities_served: Labels('A community the stakeholder serves or speaks for.'),
  languages: Type.Array(LanguageTag(), { maxItems: 40, uniqueItems: true }),
  engagement_level: Type.Enum(ENGAGEMENT_LEVELS, { description: 'identified → aware → engaged → active → leading. Every change is kept with its day.' }),
  existing_initiatives: Labels('Another initiative the stakeholder already sits on (civic fatigue is real: link to it rather than add a body).'),
  tags: Labels('A free tag.'),
  active: Type.Boolean({ description: 'False archives the stakeholder: it keeps what refers to it and no longer counts in the assessment.' })
}

export const StakeholderInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id in the city\'s own spreadsheet; unique in the city. Sent again, it updates the stakeholder.' })),
  kind: fields.kind,
  name: fields.name,
  organization_id: Type.Optional(Nullable(fields.organization_id)),
  title: Type.Optional(Nullable(fields.title)),
  category: fields.category,
  portfolio: Type.Optional(Nullable(fields.portfolio)),
  communities_served: Type.Optional(Nullable(fields.communities_served)),
  languages: Type.Optional(Nullable(fields.languages)),
  engagement_level: Type.Optional(fields.engagement_level),
  leadership_group: Type.Optional(Nullable(LeadershipGroup)),
  existing_initiatives: Type.Optional(Nullable(fields.existing_initiatives)),
  contact: Type.Optional(Nullable(Contact)),
  tags: Type.Optional(Nullable(fields.tags)),
  active: Type.Optional(fields.active)
}, {
  $id: 'StakeholderInput',
  additionalProperties: false,
  description: 'A stakeholder with an `external_id` is an import: sent again, it updates the stored stakeholder as a JSON Merge Patch would — ' +
    'fields it omits keep their stored values, contact details included; an explicit null clears that one field.'
})

/** A PATCH names any of the input's fields but the external id, which identifies the stakeholder's import. */
export const StakeholderPatchSchema = Type.Partial(Type.Omit(StakeholderInputSchema, ['external_id']), {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): only the fields given change, leadership_group and contact merge member by member, and null removes a field.'
})

export const StakeholderSchema = Type.Object({
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  kind: fields.kind,
  name: Type.String({ maxLength: 200 }),
  organization_id: OrNull(Uuid()),
  title: OrNull(Type.String({ maxLength: 200 })),
  category: fields.category,
  leg: OrNull(Type.Enum(LEGS, { description: 'The leg of the four-legged stool the category belongs to; null for federal partners and other.' })),
  portfolio: OrNull(Type.String({ maxLength: 200 })),
  communities_served: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }),
  languages: Type.Array(LanguageTag(), { maxItems: 40 }),
  engagement_level: fields.engagement_level,
  leadership_group: OrNull(Type.Object({
    role: Type.Enum(LEADERSHIP_ROLES),
    joined_on: OrNull(DateOnly()),
    left_on: OrNull(DateOnly()),
    current: Type.Boolean({ description: 'Whether the seat is held today (no left_on on or before today in the city\'s timezone).' })
  }, { additionalProperties: false })),
  existing_initiatives: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }),
  contact: Type.Optional(OrNull(Type.Object({
    email: Type.Optional(Type.String({ maxLength: 254 })),
    phone: Type.Optional(Type.String({ maxLength: 40 }))
  }, { additionalProperties: false, description: 'Only with stakeholders:read_contact; every read is audited.' }))),
  tags: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }),
  active: Type.Boolean(),
  personal_data: Type.Enum(['held', 'none', 'erased'], { description: 'Whether contact details are held for this stakeholder.' }),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Stakeholder', additionalProperties: false })

export const StakeholderListQuery = Type.Object({
  ...PageQuery,
  category: Type.Optional(fields.category),
  leg: Type.Optional(Type.Enum(LEGS)),
  engagement_level: Type.Optional(fields.engagement_level),
  leadership_group: Type.Optional(Type.Boolean({ description: 'true: only current members of the leadership group; false: only others.' })),
  tag: Type.Optional(Label('Only stakeholders with this tag.')),
  language: Type.Optional(LanguageTag({ description: 'Only stakeholders speaking this language.' })),
  active: Type.Optional(Type.Boolean()),
  updated_since: Type.Optional(Timestamp({ description: 'Only stakeholders changed at or after this time.' })),
  order: Type.Optional(Type.Enum(['name', 'updated_asc'], {
    default: 'name',
    description: 'name: alphabetical. updated_asc: the change feed, as for incidents: in the order changes were committed, never skipping one; its last page has a next_cursor too.'
  }))
}, { additionalProperties: false })

export type StakeholderInput = Static<typeof StakeholderInputSchema>
export type StakeholderPatch = Static<typeof StakeholderPatchSchema>
export type Stakeholder = Static<typeof StakeholderSchema>
export type StakeholderListFilter = Static<typeof StakeholderListQuery>
