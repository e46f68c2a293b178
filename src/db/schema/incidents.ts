import { sql } from 'drizzle-orm'
import { boolean, char, check, date, foreignKey, index, integer, numeric, pgTable, pgView, primaryKey, text, timestamp, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { bytea, changeXid, cityId, createdAt, updatedAt } from './columns.js'

/** Where a victim was referred, as the API shows it; kept in incident_referrals (stakeholders.ts) with real references. */
export interface Referral { kind: 'program' | 'stakeholder', id: string, referred_on: string }

/**
 * Bias-incident and hate-crime reports. Everything that could identify a person (narrative, reporter,
 * address, precise coordinates) lives only in `personal_data`, sealed with a per-incident data key that is
 * itself sealed by ENCRYPTION_KEY; erasing the personal data destroys that key. Coordinates are also kept
 * coarsened to two decimals (about 1 km), which is all that leaves without the personal scope.
 */
export const incidents = pgTable('incidents', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  source: varchar('source', { length: 64 }).notNull(),
  externalId: varchar('external_id', { length: 200 }),
  incidentType: varchar('incident_type', { length: 16 }).notNull(),
  biasMotivations: text('bias_motivations').array().notNull(),
  biasCategories: text('bias_categories').array().notNull(),
  offenseTypes: text('offense_types').array().notNull().default(sql`'{}'::text[]`),
  taxonomyVersion: varchar('taxonomy_version', { length: 32 }).notNull(),
  occurredOn: date('occurred_on', { mode: 'string' }).notNull(),
  occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }),
  reportedAt: timestamp('reported_at', { withTimezone: true, mode: 'date' }).notNull(),
  language: varchar('language', { length: 35 }),
  locationType: varchar('location_type', { length: 3 }),
  neighborhood: varchar('neighborhood', { length: 200 }),
  censusTract: varchar('census_tract', { length: 20 }),
  coarseLatitude: numeric('coarse_latitude', { precision: 4, scale: 2, mode: 'number' }),
  coarseLongitude: numeric('coarse_longitude', { precision: 5, scale: 2, mode: 'number' }),
  isOnline: boolean('is_online').notNull().default(false),
  platform: varchar('platform', { length: 100 }),
  // The API bounds what is sent; removing contact details can lengthen it, so the column does not.
  summary: text('summary'),
  victimCount: integer('victim_count'),
  victimType: varchar('victim_type', { length: 32 }),
  contactOk: boolean('contact_ok').notNull().default(false),
  shareWithLawEnforcement: boolean('share_with_law_enforcement').notNull().default(false),
  includeInStatistics: boolean('include_in_statistics').notNull().default(true),
  status: varchar('status', { length: 16 }).notNull().default('received'),
  /** How review ended (verified, unfounded, duplicate); kept through referral and closing. */
  resolution: varchar('resolution', { length: 16 }),
  duplicateOf: uuid('duplicate_of'),
  personalData: bytea('personal_data'),
  dataKey: bytea('data_key'),
  personalDataErasedAt: timestamp('personal_data_erased_at', { withTimezone: true, mode: 'date' }),
  contentHash: char('content_hash', { length: 64 }).notNull(),
  version: integer('version').notNull().default(1),
  changeXid: changeXid(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.duplicateOf], foreignColumns: [t.cityId, t.id] }),
  uniqueIndex('incidents_source_external_id_idx').on(t.cityId, t.source, t.externalId),
  index('incidents_occurred_idx').on(t.cityId, t.occurredOn.desc(), t.id.desc()),
  index('incidents_change_feed_idx').on(t.cityId, t.changeXid, t.id),
  // The case queue (status) and a neighbourhood's history are read newest first, like the whole list.
  index('incidents_status_idx').on(t.cityId, t.status, t.occurredOn.desc(), t.id.desc()),
  index('incidents_neighborhood_idx').on(t.cityId, t.neighborhood, t.occurredOn.desc(), t.id.desc()),
  // KPI series read the incidents that count (those of incident_statistics) by day and by the filters a
  // count KPI names most: a month-by-month count over years of reports is read from this index alone.
  index('incidents_statistics_idx').on(t.cityId, t.occurredOn, t.incidentType, t.status, t.isOnline)
    .where(sql`${t.includeInStatistics} AND ${t.resolution} IS DISTINCT FROM 'duplicate' AND ${t.resolution} IS DISTINCT FROM 'unfounded'`),
  index('incidents_bias_motivations_idx').using('gin', t.biasMotivations),
  index('incidents_bias_categories_idx').using('gin', t.biasCategories),
  check('incidents_type_check', sql`${t.incidentType} IN ('hate_crime', 'bias_incident', 'undetermined')`),
  check('incidents_status_check', sql`${t.status} IN ('received', 'under_review', 'verified', 'unfounded', 'duplicate', 'referred', 'closed')`),
  check('incidents_resolution_check', sql`${t.resolution} IN ('verified', 'unfounded', 'duplicate')`),
  check('incidents_duplicate_check', sql`(${t.resolution} IS NOT DISTINCT FROM 'duplicate') = (${t.duplicateOf} IS NOT NULL) AND ${t.duplicateOf} IS DISTINCT FROM ${t.id}`),
  check('incidents_personal_data_check', sql`(${t.personalData} IS NULL) = (${t.dataKey} IS NULL)`)
])

/**
 * The de-identified incidents every count, KPI and export starts from: no personal column, coordinates
 * only coarse, and without the reports whose reporters opted out of statistics, the duplicates of other
 * reports and those found unfounded (also after they are closed).
 */
export const incidentStatistics = pgView('incident_statistics').as((qb) => qb.select({
  cityId: incidents.cityId,
  id: incidents.id,
  source: incidents.source,
  incidentType: incidents.incidentType,
  biasMotivations: incidents.biasMotivations,
  biasCategories: incidents.biasCategories,
  offenseTypes: incidents.offenseTypes,
  occurredOn: incidents.occurredOn,
  locationType: incidents.locationType,
  neighborhood: incidents.neighborhood,
  censusTract: incidents.censusTract,
  coarseLatitude: incidents.coarseLatitude,
  coarseLongitude: incidents.coarseLongitude,
  isOnline: incidents.isOnline,
  platform: incidents.platform,
  victimCount: incidents.victimCount,
  victimType: incidents.victimType,
  status: incidents.status,
  resolution: incidents.resolution
}).from(incidents).where(sql`${incidents.includeInStatistics} AND ${incidents.resolution} IS DISTINCT FROM 'duplicate' AND ${incidents.resolution} IS DISTINCT FROM 'unfounded'`))
