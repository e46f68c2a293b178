import { and, eq, getTableColumns, gte, inArray, lte, sql, type SQL } from 'drizzle-orm'
import { query, type Executor } from '../../../db/client.js'
import { incidents } from '../../../db/schema/index.js'
import type { Draft } from './rules.js'
import type { IncidentListFilter } from './schema.js'

export type IncidentRow = typeof incidents.$inferSelect

/** Limits a query to the sources a partner's key may see (no limit for other keys). */
export const sourceScope = (sources: string[] | null): SQL | undefined =>
  sources === null ? undefined : inArray(incidents.source, sources)

export async function getIncident (db: Executor, cityId: string, id: string, sources: string[] | null): Promise<IncidentRow | undefined> {
  const [row] = await db.select().from(incidents)
    .where(and(eq(incidents.cityId, cityId), eq(incidents.id, id), sourceScope(sources))).limit(1)
  return row
}

export interface Existing { id: string, source: string, externalId: string, contentHash: string, reportedAt: Date, erased: boolean }

/** The incidents already stored under these (source, external_id) pairs, in one query. */
export async function findBySourceAndExternalId (db: Executor, cityId: string, pairs: Array<{ source: string, externalId: string }>): Promise<Existing[]> {
  if (pairs.length === 0) return []
  const rows = await query<Omit<Existing, 'reportedAt'> & { reportedAt: string | Date }>(db, sql`
    SELECT i.id, i.source, i.external_id AS "externalId", i.content_hash AS "contentHash", i.reported_at AS "reportedAt",
           i.personal_data_erased_at IS NOT NULL AS erased
    FROM incidents i
    JOIN unnest(${sql.param(pairs.map((p) => p.source))}::text[], ${sql.param(pairs.map((p) => p.externalId))}::text[]) AS k(source, external_id)
      ON i.source = k.source AND i.external_id = k.external_id
    WHERE i.city_id = ${cityId}`)
  // Raw queries bypass Drizzle's column mapping: both drivers hand timestamps back as text here.
  return rows.map((row) => ({ ...row, reportedAt: new Date(row.reportedAt) }))
}

export interface WriteRow { id: string, draft: Draft, personalData: Buffer | null, dataKey: Buffer | null }

const columnsOf = (cityId: string, { id, draft, personalData, dataKey }: WriteRow) => ({
  cityId,
  id,
  source: draft.source,
  externalId: draft.externalId,
  incidentType: draft.incidentType,
  biasMotivations: draft.biasMotivations,
  biasCategories: draft.biasCategories,
  offenseTypes: draft.offenseTypes,
  taxonomyVersion: draft.taxonomyVersion,
  occurredOn: draft.occurredOn,
  occurredAt: draft.occurredAt,
  reportedAt: draft.reportedAt,
  language: draft.language,
  locationType: draft.locationType,
  neighborhood: draft.neighborhood,
  censusTract: draft.censusTract,
  coarseLatitude: draft.coarseLatitude,
  coarseLongitude: draft.coarseLongitude,
  isOnline: draft.isOnline,
  platform: draft.platform,
  summary: draft.summary,
  victimCount: draft.victimCount,
  victimType: draft.victimType,
  contactOk: draft.contactOk,
  shareWithLawEnforcement: draft.shareWithLawEnforcement,
  includeInStatistics: draft.includeInStatistics,
  referrals: draft.referrals,
  personalData,
  dataKey,
  contentHash: draft.contentHash
})

const excluded = (column: string): SQL => sql.raw(`excluded."${column}"`)
const REPLACED = ['incident_type', 'bias_motivations', 'bias_categories', 'offense_types', 'taxonomy_version', 'occurred_on', 'occurred_at',
  'reported_at', 'language', 'location_type', 'neighborhood', 'census_tract', 'coarse_latitude', 'coarse_longitude', 'is_online', 'platform',
  'summary', 'victim_count', 'victim_type', 'contact_ok', 'share_with_law_enforcement', 'include_in_statistics', 'referrals', 'content_hash']

/**
 * Inserts or updates many incidents in one statement, keyed on (source, external_id). An existing row is
 * only rewritten when its content changed and it is the row the caller prepared (same id: the personal
 * data was sealed for that id); erased personal data stays erased. Returns the rows written.
 */
export async function upsertIncidents (db: Executor, cityId: string, rows: WriteRow[]): Promise<Array<{ id: string, inserted: boolean }>> {
  if (rows.length === 0) return []
  // Drizzle's `set` is keyed by the table's property names (biasMotivations), not by column names: a key it
  // does not know is silently left out of the UPDATE.
  const set: Record<string, SQL> = {}
  for (const [key, column] of Object.entries(getTableColumns(incidents))) {
    if (REPLACED.includes(column.name)) set[key] = excluded(column.name)
  }
  set.personalData = sql`CASE WHEN ${incidents.personalDataErasedAt} IS NULL THEN excluded.personal_data END`
  set.dataKey = sql`CASE WHEN ${incidents.personalDataErasedAt} IS NULL THEN excluded.data_key END`
  set.version = sql`${incidents.version} + 1`
  set.updatedAt = sql`now()`
  return await db.insert(incidents).values(rows.map((row) => columnsOf(cityId, row)))
    .onConflictDoUpdate({
      target: [incidents.cityId, incidents.source, incidents.externalId],
      set: set as never,
      setWhere: sql`${incidents.contentHash} <> excluded.content_hash AND ${incidents.id} = excluded.id`
    })
    .returning({ id: incidents.id, inserted: sql<boolean>`(xmax = 0)` })
}

/**
 * Rewrites one incident after a PATCH, if it is still at `version`. The content hash stays that of the last
 * import, so re-running an unchanged import keeps the city's corrections.
 */
export async function replaceIncident (db: Executor, cityId: string, version: number, row: WriteRow & { status: string, resolution: string | null, duplicateOf: string | null }): Promise<IncidentRow | undefined> {
  const { cityId: _c, id: _i, source: _s, externalId: _e, contentHash: _h, ...columns } = columnsOf(cityId, row)
  const [updated] = await db.update(incidents).set({
    ...columns,
    status: row.status,
    resolution: row.resolution,
    duplicateOf: row.duplicateOf,
    version: sql`${incidents.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(incidents.cityId, cityId), eq(incidents.id, row.id), eq(incidents.version, version))).returning()
  return updated
}

/** Destroys the data key and the sealed personal data; the de-identified record stays. */
export async function erasePersonalData (db: Executor, cityId: string, id: string, sources: string[] | null): Promise<IncidentRow | undefined> {
  const [row] = await db.update(incidents).set({
    personalData: null,
    dataKey: null,
    personalDataErasedAt: sql`coalesce(${incidents.personalDataErasedAt}, now())`,
    version: sql`${incidents.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(incidents.cityId, cityId), eq(incidents.id, id), sourceScope(sources))).returning()
  return row
}

/**
 * updated_at to the microsecond, as text: a cursor built from the millisecond Date would sort before its own
 * row, and the next page would serve that row again.
 */
const UPDATED_AT_KEY = sql<string>`to_char(${incidents.updatedAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

export type ListedIncident = IncidentRow & { updatedAtKey: string }

export type ListPosition = { order: 'occurred_desc', occurredOn: string, id: string } | { order: 'updated_asc', updatedAt: string, id: string }

/**
 * One page of incidents. Each order walks an index: (city, occurred_on desc, id desc) or
 * (city, updated_at, id), so a page costs the same at the millionth row as at the first.
 */
export async function listIncidents (db: Executor, cityId: string, filter: IncidentListFilter & { limit: number }, sources: string[] | null, after: ListPosition | undefined): Promise<ListedIncident[]> {
  const order = filter.order ?? 'occurred_desc'
  const conditions: Array<SQL | undefined> = [
    eq(incidents.cityId, cityId),
    sourceScope(sources),
    filter.occurred_from !== undefined ? gte(incidents.occurredOn, filter.occurred_from) : undefined,
    filter.occurred_to !== undefined ? lte(incidents.occurredOn, filter.occurred_to) : undefined,
    filter.bias_motivation !== undefined ? sql`${incidents.biasMotivations} @> ARRAY[${filter.bias_motivation}]::text[]` : undefined,
    filter.bias_category !== undefined ? sql`${incidents.biasCategories} @> ARRAY[${filter.bias_category}]::text[]` : undefined,
    filter.incident_type !== undefined ? eq(incidents.incidentType, filter.incident_type) : undefined,
    filter.status !== undefined ? eq(incidents.status, filter.status) : undefined,
    filter.neighborhood !== undefined ? eq(incidents.neighborhood, filter.neighborhood) : undefined,
    filter.source !== undefined ? eq(incidents.source, filter.source) : undefined,
    filter.is_online !== undefined ? eq(incidents.isOnline, filter.is_online) : undefined,
    filter.updated_since !== undefined ? gte(incidents.updatedAt, new Date(filter.updated_since)) : undefined
  ]
  if (after?.order === 'occurred_desc') conditions.push(sql`(${incidents.occurredOn}, ${incidents.id}) < (${after.occurredOn}::date, ${after.id}::uuid)`)
  if (after?.order === 'updated_asc') conditions.push(sql`(${incidents.updatedAt}, ${incidents.id}) > (${after.updatedAt}::timestamptz, ${after.id}::uuid)`)
  const orderBy = order === 'occurred_desc'
    ? [sql`${incidents.occurredOn} DESC NULLS LAST`, sql`${incidents.id} DESC NULLS LAST`]
    : [sql`${incidents.updatedAt}`, sql`${incidents.id}`]
  return await db.select({ ...getTableColumns(incidents), updatedAtKey: UPDATED_AT_KEY }).from(incidents)
    .where(and(...conditions)).orderBy(...orderBy).limit(filter.limit + 1)
}

/**
 * Other sources' reports that may describe the same event: within three days, sharing a bias code, and
 * in the same place (neighbourhood, census tract, within about 2 km, or the same online platform).
 */
export async function possibleDuplicates (db: Executor, cityId: string, of: IncidentRow, sources: string[] | null, limit: number): Promise<IncidentRow[]> {
  const samePlace = [
    of.neighborhood !== null ? sql`${incidents.neighborhood} = ${of.neighborhood}` : undefined,
    of.censusTract !== null ? sql`${incidents.censusTract} = ${of.censusTract}` : undefined,
    of.coarseLatitude !== null && of.coarseLongitude !== null
      ? sql`(abs(${incidents.coarseLatitude} - ${of.coarseLatitude}) <= 0.02 AND abs(${incidents.coarseLongitude} - ${of.coarseLongitude}) <= 0.02)`
      : undefined,
    of.isOnline && of.platform !== null ? sql`(${incidents.isOnline} AND lower(${incidents.platform}) = lower(${of.platform}))` : undefined
  ].filter((c): c is SQL => c !== undefined)
  if (samePlace.length === 0) return []
  return await db.select().from(incidents).where(and(
    eq(incidents.cityId, cityId),
    sourceScope(sources),
    sql`${incidents.id} <> ${of.id}`,
    sql`${incidents.source} <> ${of.source}`,
    sql`${incidents.occurredOn} BETWEEN ${of.occurredOn}::date - 3 AND ${of.occurredOn}::date + 3`,
    sql`${incidents.biasMotivations} && ${sql.param(of.biasMotivations)}::text[]`,
    sql`(${sql.join(samePlace, sql` OR `)})`
  )).orderBy(sql`abs(${incidents.occurredOn} - ${of.occurredOn}::date)`, incidents.id).limit(limit)
}
