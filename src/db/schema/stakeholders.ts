import { sql } from 'drizzle-orm'
import { boolean, check, date, foreignKey, index, integer, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { cityId, createdAt, personalDataColumns, recordColumns } from './columns.js'
import { incidents } from './incidents.js'

export const STAKEHOLDER_KINDS = ['person', 'organization'] as const
/** The four legs of the stool first, then the other seats the pilots gave a place at the table. */
export const STAKEHOLDER_CATEGORIES = ['elected_official', 'city_staff', 'community_organization', 'law_enforcement', 'faith_community', 'education',
  'social_services', 'public_health', 'academia', 'youth', 'human_rights_commission', 'federal_partner', 'business', 'media', 'other'] as const
export const LEGS = ['elected', 'city_staff', 'community', 'law_enforcement'] as const
export const ENGAGEMENT_LEVELS = ['identified', 'aware', 'engaged', 'active', 'leading'] as const
export const LEADERSHIP_ROLES = ['chair', 'co_chair', 'member', 'observer'] as const
export const RELATIONSHIP_TYPES = ['collaboration', 'trust', 'referral', 'funding', 'communication'] as const
export const MEETING_KINDS = ['leadership_group', 'workshop', 'training', 'community_dialogue', 'briefing'] as const
export const SERVICE_TYPES = ['housing', 'youth', 'mental_health', 'victim_support', 'legal_aid', 'refugee_services', 'education', 'interfaith',
  'community_building', 'training', 'other'] as const

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ')

/**
 * The leg of the four-legged stool a category belongs to; federal partners and "other" belong to none. Kept as
 * a generated column, so that lists filter on it and the assessment groups by it in SQL.
 */
export const LEG_OF_CATEGORY = sql.raw(`CASE category
  WHEN 'elected_official' THEN 'elected'
  WHEN 'city_staff' THEN 'city_staff' WHEN 'human_rights_commission' THEN 'city_staff'
  WHEN 'law_enforcement' THEN 'law_enforcement'
  WHEN 'federal_partner' THEN NULL WHEN 'other' THEN NULL
  ELSE 'community' END`)

/**
 * The people and organisations of the city's prevention work. Contact details (e-mail, phone) are personal:
 * sealed like a reporter's, shown only with stakeholders:read_contact.
 */
export const stakeholders = pgTable('stakeholders', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  kind: varchar('kind', { length: 16 }).notNull(),
  name: varchar('name', { length: 200 }).notNull(),
  organizationId: uuid('organization_id'),
  title: varchar('title', { length: 200 }),
  category: varchar('category', { length: 32 }).notNull(),
  leg: varchar('leg', { length: 16 }).generatedAlwaysAs(LEG_OF_CATEGORY),
  portfolio: varchar('portfolio', { length: 200 }),
  communitiesServed: text('communities_served').array().notNull().default(sql`'{}'::text[]`),
  languages: text('languages').array().notNull().default(sql`'{}'::text[]`),
  engagementLevel: varchar('engagement_level', { length: 16 }).notNull().default('identified'),
  leadershipRole: varchar('leadership_role', { length: 16 }),
  leadershipJoinedOn: date('leadership_joined_on', { mode: 'string' }),
  leadershipLeftOn: date('leadership_left_on', { mode: 'string' }),
  existingInitiatives: text('existing_initiatives').array().notNull().default(sql`'{}'::text[]`),
  tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
  active: boolean('active').notNull().default(true),
  ...personalDataColumns(),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.organizationId], foreignColumns: [t.cityId, t.id] }),
  uniqueIndex('stakeholders_external_id_idx').on(t.cityId, t.externalId),
  index('stakeholders_name_idx').on(t.cityId, t.name, t.id),
  index('stakeholders_category_idx').on(t.cityId, t.category),
  index('stakeholders_leg_idx').on(t.cityId, t.leg),
  index('stakeholders_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  index('stakeholders_tags_idx').using('gin', t.tags),
  index('stakeholders_languages_idx').using('gin', t.languages),
  check('stakeholders_kind_check', sql.raw(`kind IN (${inList(STAKEHOLDER_KINDS)})`)),
  check('stakeholders_category_check', sql.raw(`category IN (${inList(STAKEHOLDER_CATEGORIES)})`)),
  check('stakeholders_engagement_check', sql.raw(`engagement_level IN (${inList(ENGAGEMENT_LEVELS)})`)),
  check('stakeholders_leadership_check', sql.raw(`leadership_role IS NULL OR leadership_role IN (${inList(LEADERSHIP_ROLES)})`)),
  check('stakeholders_organization_check', sql`${t.organizationId} IS DISTINCT FROM ${t.id}`),
  check('stakeholders_personal_data_check', sql`(${t.personalData} IS NULL) = (${t.dataKey} IS NULL)`)
])

/**
 * Every change of a stakeholder's engagement, leadership-group membership or activity, with the day it was
 * recorded in the city's timezone: KPIs of a past period read what was true at its end. Written by a
 * trigger on stakeholders (migrations/), so that no write path can forget it.
 */
export const stakeholderHistory = pgTable('stakeholder_history', {
  cityId: cityId(),
  stakeholderId: uuid('stakeholder_id').notNull(),
  recordedOn: date('recorded_on', { mode: 'string' }).notNull(),
  recordedAt: timestamp('recorded_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  sequence: integer('sequence').generatedAlwaysAsIdentity(),
  engagementLevel: varchar('engagement_level', { length: 16 }).notNull(),
  leadershipRole: varchar('leadership_role', { length: 16 }),
  leadershipJoinedOn: date('leadership_joined_on', { mode: 'string' }),
  leadershipLeftOn: date('leadership_left_on', { mode: 'string' }),
  active: boolean('active').notNull()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.stakeholderId, t.sequence] }),
  foreignKey({ columns: [t.cityId, t.stakeholderId], foreignColumns: [stakeholders.cityId, stakeholders.id] }).onDelete('cascade'),
  index('stakeholder_history_as_of_idx').on(t.cityId, t.recordedOn)
])

/** A tie between two stakeholders of the same city; one that ended has an `until` in the past. */
export const stakeholderRelationships = pgTable('stakeholder_relationships', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  fromId: uuid('from_id').notNull(),
  toId: uuid('to_id').notNull(),
  type: varchar('type', { length: 16 }).notNull(),
  strength: smallint('strength').notNull().default(3),
  since: date('since', { mode: 'string' }),
  until: date('until', { mode: 'string' }),
  notes: text('notes'),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.fromId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  foreignKey({ columns: [t.cityId, t.toId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  uniqueIndex('stakeholder_relationships_external_id_idx').on(t.cityId, t.externalId),
  index('stakeholder_relationships_from_idx').on(t.cityId, t.fromId),
  index('stakeholder_relationships_to_idx').on(t.cityId, t.toId),
  index('stakeholder_relationships_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  check('stakeholder_relationships_type_check', sql.raw(`type IN (${inList(RELATIONSHIP_TYPES)})`)),
  check('stakeholder_relationships_strength_check', sql`${t.strength} BETWEEN 1 AND 5`),
  check('stakeholder_relationships_ends_check', sql`${t.fromId} <> ${t.toId}`),
  check('stakeholder_relationships_period_check', sql`${t.until} IS NULL OR ${t.since} IS NULL OR ${t.until} >= ${t.since}`)
])

/** Convenings: they have value in themselves, and who came says which legs are at the table. */
export const meetings = pgTable('meetings', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  heldOn: date('held_on', { mode: 'string' }).notNull(),
  title: varchar('title', { length: 300 }).notNull(),
  kind: varchar('kind', { length: 24 }).notNull(),
  topics: text('topics').array().notNull().default(sql`'{}'::text[]`),
  notes: text('notes'),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  uniqueIndex('meetings_external_id_idx').on(t.cityId, t.externalId),
  index('meetings_held_on_idx').on(t.cityId, t.heldOn.desc(), t.id.desc()),
  index('meetings_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  check('meetings_kind_check', sql.raw(`kind IN (${inList(MEETING_KINDS)})`))
])

export const meetingAttendees = pgTable('meeting_attendees', {
  cityId: cityId(),
  meetingId: uuid('meeting_id').notNull(),
  stakeholderId: uuid('stakeholder_id').notNull()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.meetingId, t.stakeholderId] }),
  foreignKey({ columns: [t.cityId, t.meetingId], foreignColumns: [meetings.cityId, meetings.id] }).onDelete('cascade'),
  foreignKey({ columns: [t.cityId, t.stakeholderId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  index('meeting_attendees_stakeholder_idx').on(t.cityId, t.stakeholderId)
])

/** The directory of programs the plan and case workers can draw on; public contact details only. */
export const programs = pgTable('programs', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  externalId: varchar('external_id', { length: 200 }),
  name: varchar('name', { length: 200 }).notNull(),
  description: text('description'),
  providerId: uuid('provider_id'),
  serviceTypes: text('service_types').array().notNull().default(sql`'{}'::text[]`),
  languages: text('languages').array().notNull().default(sql`'{}'::text[]`),
  neighborhoods: text('neighborhoods').array().notNull().default(sql`'{}'::text[]`),
  eligibility: text('eligibility'),
  publicEmail: varchar('public_email', { length: 254 }),
  publicPhone: varchar('public_phone', { length: 40 }),
  url: varchar('url', { length: 2000 }),
  active: boolean('active').notNull().default(true),
  ...recordColumns()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.providerId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  uniqueIndex('programs_external_id_idx').on(t.cityId, t.externalId),
  index('programs_name_idx').on(t.cityId, t.name, t.id),
  index('programs_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  index('programs_service_types_idx').using('gin', t.serviceTypes),
  index('programs_languages_idx').using('gin', t.languages),
  index('programs_neighborhoods_idx').using('gin', t.neighborhoods)
])

/** Where a victim was referred: a program or a stakeholder of the same city. */
export const incidentReferrals = pgTable('incident_referrals', {
  cityId: cityId(),
  incidentId: uuid('incident_id').notNull(),
  position: smallint('position').notNull(),
  programId: uuid('program_id'),
  stakeholderId: uuid('stakeholder_id'),
  referredOn: date('referred_on', { mode: 'string' }).notNull(),
  createdAt: createdAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.incidentId, t.position] }),
  foreignKey({ columns: [t.cityId, t.incidentId], foreignColumns: [incidents.cityId, incidents.id] }).onDelete('cascade'),
  foreignKey({ columns: [t.cityId, t.programId], foreignColumns: [programs.cityId, programs.id] }),
  foreignKey({ columns: [t.cityId, t.stakeholderId], foreignColumns: [stakeholders.cityId, stakeholders.id] }),
  index('incident_referrals_program_idx').on(t.cityId, t.programId),
  index('incident_referrals_stakeholder_idx').on(t.cityId, t.stakeholderId),
  check('incident_referrals_target_check', sql`(${t.programId} IS NULL) <> (${t.stakeholderId} IS NULL)`)
])
