import { and, eq, getTableColumns, gte, inArray, lte, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { incidents, type Referral } from '../../../db/schema/index.js'
import { auditInsert, type AuditActor, type AuditEntry } from '../../../lib/audit.js'
import { settledChanges } from '../../../lib/change-feed.js'
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

/**
 * The incidents already stored under these (source, external_id) pairs, whole, in one query: an import
 * merges what it sends into what is stored.
 */
export async function findBySourceAndExternalId (db: Executor, cityId: string, pairs: Array<{ source: string, externalId: string }>): Promise<IncidentRow[]> {
  if (pairs.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`
    SELECT ${LISTED_COLUMNS} FROM incidents
    JOIN unnest(${sql.param(pairs.map((p) => p.source))}::text[], ${sql.param(pairs.map((p) => p.externalId))}::text[]) AS k(source, external_id)
      ON incidents.source = k.source AND incidents.external_id = k.external_id
    WHERE incidents.city_id = ${cityId}`)
  return rows.map(mappedRow)
}

/**
 * A row to write: the prepared draft, its sealed personal data, the hash of the body it came from, and the
 * version it will have (the stored one plus one; 1 for a new incident).
 */
export interface WriteRow { id: string, draft: Draft, personalData: Buffer | null, dataKey: Buffer | null, contentHash: string, version: number }

const columnsOf = ({ draft, personalData, dataKey }: Pick<WriteRow, 'draft' | 'personalData' | 'dataKey'>) => ({
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
  personalData,
  dataKey
})

/** A text[] literal, for an array column sent inside a text[] parameter: every element quoted. */
const timestamp = (value: Date | null): string | null => value === null ? null : value.toISOString()
const text = (value: number | boolean | null): string | null => value === null ? null : String(value)
const hex = (value: Buffer | null): string | null => value === null ? null : value.toString('hex')

/**
 * The columns an import writes besides city_id: how each goes into its text[] parameter (one parameter per
 * column, one element per row) and the SQL that reads it back. The same values as columnsOf, in text form.
 */
const IMPORTED: Array<{ column: string, read: (u: string) => string, value: (row: WriteRow) => string | null }> = [
  { column: 'id', read: (u) => `${u}::uuid`, value: (r) => r.id },
  { column: 'source', read: (u) => u, value: (r) => r.draft.source },
  { column: 'external_id', read: (u) => u, value: (r) => r.draft.externalId },
  { column: 'incident_type', read: (u) => u, value: (r) => r.draft.incidentType },
  { column: 'bias_motivations', read: (u) => `${u}::text[]`, value: (r) => textArrayLiteral(r.draft.biasMotivations) },
  { column: 'bias_categories', read: (u) => `${u}::text[]`, value: (r) => textArrayLiteral(r.draft.biasCategories) },
  { column: 'offense_types', read: (u) => `${u}::text[]`, value: (r) => textArrayLiteral(r.draft.offenseTypes) },
  { column: 'taxonomy_version', read: (u) => u, value: (r) => r.draft.taxonomyVersion },
  { column: 'occurred_on', read: (u) => `${u}::date`, value: (r) => r.draft.occurredOn },
  { column: 'occurred_at', read: (u) => `${u}::timestamptz`, value: (r) => timestamp(r.draft.occurredAt) },
  { column: 'reported_at', read: (u) => `${u}::timestamptz`, value: (r) => timestamp(r.draft.reportedAt) },
  { column: 'language', read: (u) => u, value: (r) => r.draft.language },
  { column: 'location_type', read: (u) => u, value: (r) => r.draft.locationType },
  { column: 'neighborhood', read: (u) => u, value: (r) => r.draft.neighborhood },
  { column: 'census_tract', read: (u) => u, value: (r) => r.draft.censusTract },
  { column: 'coarse_latitude', read: (u) => `${u}::numeric`, value: (r) => text(r.draft.coarseLatitude) },
  { column: 'coarse_longitude', read: (u) => `${u}::numeric`, value: (r) => text(r.draft.coarseLongitude) },
  { column: 'is_online', read: (u) => `${u}::boolean`, value: (r) => text(r.draft.isOnline) },
  { column: 'platform', read: (u) => u, value: (r) => r.draft.platform },
  { column: 'summary', read: (u) => u, value: (r) => r.draft.summary },
  { column: 'victim_count', read: (u) => `${u}::integer`, value: (r) => text(r.draft.victimCount) },
  { column: 'victim_type', read: (u) => u, value: (r) => r.draft.victimType },
  { column: 'contact_ok', read: (u) => `${u}::boolean`, value: (r) => text(r.draft.contactOk) },
  { column: 'share_with_law_enforcement', read: (u) => `${u}::boolean`, value: (r) => text(r.draft.shareWithLawEnforcement) },
  { column: 'include_in_statistics', read: (u) => `${u}::boolean`, value: (r) => text(r.draft.includeInStatistics) },
  { column: 'personal_data', read: (u) => `decode(${u}, 'hex')`, value: (r) => hex(r.personalData) },
  { column: 'data_key', read: (u) => `decode(${u}, 'hex')`, value: (r) => hex(r.dataKey) },
  { column: 'content_hash', read: (u) => u, value: (r) => r.contentHash },
  { column: 'version', read: (u) => `${u}::integer`, value: (r) => String(r.version) }
]

/** What an update rewrites: everything imported but the row's identity and its personal data (kept erased when erased). */
const REPLACED = IMPORTED.map((c) => c.column).filter((c) => !['id', 'source', 'external_id', 'personal_data', 'data_key'].includes(c))

const NAMES = sql.raw(IMPORTED.map((c) => `"${c.column}"`).join(', '))
const READS = sql.raw(IMPORTED.map((c) => c.read(`u."${c.column}"`)).join(', '))
const ON_CONFLICT = sql.raw(`ON CONFLICT (city_id, source, external_id) DO UPDATE SET
    ${REPLACED.map((c) => `"${c}" = excluded."${c}"`).join(', ')},
    personal_data = CASE WHEN incidents.personal_data_erased_at IS NULL THEN excluded.personal_data END,
    data_key = CASE WHEN incidents.personal_data_erased_at IS NULL THEN excluded.data_key END,
    updated_at = now()
  WHERE incidents.id = excluded.id AND incidents.version = excluded.version - 1`)

/**
 * Inserts or updates many incidents in one statement, keyed on (source, external_id), and audits what it
 * wrote in the same statement. An existing row is only rewritten when it is still the row the caller merged
 * the import into: the same id (its personal data was sealed for that id) at the version it read. Otherwise (a
 * concurrent import created it, a PATCH changed it) the row is left alone and not returned, and the caller
 * merges again. Erased personal data stays erased. Returns the rows written, whole with `returnRows`.
 *
 * The rows travel as one text[] parameter per column (unnest), not as a VALUES list of 30 parameters per
 * row: building a 30,000-parameter statement with Drizzle cost more CPU than everything else an import
 * does. Columns not named (status, referrals, created_at, ...) keep what is stored, or take their defaults.
 */
export async function upsertIncidents (db: Executor, cityId: string, rows: WriteRow[], audit: { actor: AuditActor, entries: AuditEntry[] }, returnRows = false): Promise<Written[]> {
  if (rows.length === 0) return []
  const arrays = sql.join(IMPORTED.map((c) => sql`${textArrayLiteral(rows.map(c.value))}::text[]`), sql.raw(', '))
  const written = await query<Record<string, unknown>>(db, sql`WITH written AS (
    INSERT INTO incidents (city_id, ${NAMES})
    SELECT ${cityId}::uuid, ${READS}
    FROM unnest(${arrays}) AS u(${NAMES})
    ${ON_CONFLICT}
    RETURNING ${returnRows ? LISTED_COLUMNS : sql.raw('incidents.id')}, (xmax = 0) AS inserted
  ), audited AS (${auditInsert(cityId, audit.actor, audit.entries, sql`SELECT id FROM written`)})
  SELECT * FROM written`)
  return written.map((raw) => ({ id: raw.id as string, inserted: raw.inserted as boolean, ...(returnRows ? { row: mappedRow(raw) } : {}) }))
}

export interface Written { id: string, inserted: boolean, row?: IncidentRow }

/**
 * Rewrites one incident after a PATCH, if it is still at `version`. The content hash stays that of the last
 * import, so re-running an unchanged import keeps the city's corrections.
 */
export async function replaceIncident (db: Executor, cityId: string, version: number, row: Pick<WriteRow, 'id' | 'draft' | 'personalData' | 'dataKey'> & CaseFields): Promise<IncidentRow | undefined> {
  const [updated] = await db.update(incidents).set({
    ...columnsOf(row),
    status: row.status,
    resolution: row.resolution,
    duplicateOf: row.duplicateOf,
    referrals: row.referrals,
    version: sql`${incidents.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(incidents.cityId, cityId), eq(incidents.id, row.id), eq(incidents.version, version))).returning()
  return updated
}

/** The case as the city handles it: written only by PATCH. */
export interface CaseFields { status: string, resolution: string | null, duplicateOf: string | null, referrals: Referral[] }

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
 * The list reads every column, as `select()` would, but builds its column list once and decodes each value
 * with the column's own mapping: Drizzle's select builder and row mapper (38 columns, their entity checks
 * repeated for every request and every row) cost a quarter of the CPU of a page of 50.
 */
const LISTED = Object.entries(getTableColumns(incidents))
const LISTED_COLUMNS = sql.raw(LISTED.map(([, column]) => `incidents."${column.name}"`).join(', '))

/** A raw row (snake_case, as the driver returns it) decoded by each column's own mapping. */
function mappedRow (raw: Record<string, unknown>): IncidentRow {
  const row: Record<string, unknown> = {}
  for (const [key, column] of LISTED) {
    const value = raw[column.name]
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value)
  }
  return row as IncidentRow
}

export type ListPosition = { order: 'occurred_desc', occurredOn: string, id: string } | { order: 'updated_asc', changeXid: number, id: string }

/**
 * One page of incidents. Each order walks an index: (city, occurred_on desc, id desc) or
 * (city, change_xid, id), so a page costs the same at the millionth row as at the first.
 */
export async function listIncidents (db: Executor, cityId: string, filter: IncidentListFilter & { limit: number }, sources: string[] | null, after: ListPosition | undefined): Promise<IncidentRow[]> {
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
  if (order === 'updated_asc') conditions.push(settledChanges(incidents.changeXid))
  if (after?.order === 'updated_asc') conditions.push(sql`(${incidents.changeXid}, ${incidents.id}) > (${after.changeXid}::bigint, ${after.id}::uuid)`)
  const orderBy = order === 'occurred_desc'
    ? [sql`${incidents.occurredOn} DESC NULLS LAST`, sql`${incidents.id} DESC NULLS LAST`]
    : [sql`${incidents.changeXid}`, sql`${incidents.id}`]
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${LISTED_COLUMNS} FROM incidents
    WHERE ${and(...conditions)} ORDER BY ${sql.join(orderBy, sql.raw(', '))} LIMIT ${filter.limit + 1}`)
  return rows.map(mappedRow)
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
