import { and, eq, gte, inArray, lte, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { incidents, type Referral } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { settledChanges } from '../../../lib/change-feed.js'
import type { Draft } from './rules.js'
import type { IncidentListFilter } from './schema.js'

/** An incident as read: its row and where it was referred (incident_referrals). */
export type IncidentRow = typeof incidents.$inferSelect & { referrals: Referral[] }

/** The referrals of the incident in the same row, in the order the city gave them, as the API shows them. */
const REFERRALS = sql.raw(`(SELECT coalesce(jsonb_agg(jsonb_build_object(
    'kind', CASE WHEN r.program_id IS NOT NULL THEN 'program' ELSE 'stakeholder' END,
    'id', coalesce(r.program_id, r.stakeholder_id),
    'referred_on', to_char(r.referred_on, 'YYYY-MM-DD')) ORDER BY r.position), '[]'::jsonb)
  FROM incident_referrals r WHERE r.city_id = incidents.city_id AND r.incident_id = incidents.id) AS referrals`)

function decodeIncident (raw: Record<string, unknown>): IncidentRow {
  const row = decodeRow<IncidentRow>(incidents, raw)
  row.referrals = (typeof raw.referrals === 'string' ? JSON.parse(raw.referrals) : raw.referrals ?? []) as Referral[]
  return row
}

/** Limits a query to the sources a partner's key may see (no limit for other keys). */
export const sourceScope = (sources: string[] | null): SQL | undefined =>
  sources === null ? undefined : inArray(incidents.source, sources)

export async function getIncident (db: Executor, cityId: string, id: string, sources: string[] | null): Promise<IncidentRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${INCIDENT_COLUMNS} FROM incidents
    WHERE ${and(eq(incidents.cityId, cityId), eq(incidents.id, id), sourceScope(sources))}`)
  return row === undefined ? undefined : decodeIncident(row)
}

/**
 * The incidents already stored under these (source, external_id) pairs, whole, in one query: an import
 * merges what it sends into what is stored.
 */
export async function findBySourceAndExternalId (db: Executor, cityId: string, pairs: Array<{ source: string, externalId: string }>): Promise<IncidentRow[]> {
  if (pairs.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`
    SELECT ${INCIDENT_COLUMNS} FROM incidents
    JOIN unnest(${textArrayLiteral(pairs.map((p) => p.source))}::text[], ${textArrayLiteral(pairs.map((p) => p.externalId))}::text[]) AS k(source, external_id)
      ON incidents.source = k.source AND incidents.external_id = k.external_id
    WHERE incidents.city_id = ${cityId}`)
  return rows.map(decodeIncident)
}

/** Each column a prepared report fills, declared once: for imports (set-based) and for PATCH alike. */
const DRAFT_COLUMNS = {
  incidentType: (d: Draft) => d.incidentType,
  biasMotivations: (d: Draft) => d.biasMotivations,
  biasCategories: (d: Draft) => d.biasCategories,
  offenseTypes: (d: Draft) => d.offenseTypes,
  taxonomyVersion: (d: Draft) => d.taxonomyVersion,
  occurredOn: (d: Draft) => d.occurredOn,
  occurredAt: (d: Draft) => d.occurredAt,
  reportedAt: (d: Draft) => d.reportedAt,
  language: (d: Draft) => d.language,
  locationType: (d: Draft) => d.locationType,
  neighborhood: (d: Draft) => d.neighborhood,
  censusTract: (d: Draft) => d.censusTract,
  coarseLatitude: (d: Draft) => d.coarseLatitude,
  coarseLongitude: (d: Draft) => d.coarseLongitude,
  isOnline: (d: Draft) => d.isOnline,
  platform: (d: Draft) => d.platform,
  summary: (d: Draft) => d.summary,
  victimCount: (d: Draft) => d.victimCount,
  victimType: (d: Draft) => d.victimType,
  contactOk: (d: Draft) => d.contactOk,
  shareWithLawEnforcement: (d: Draft) => d.shareWithLawEnforcement,
  includeInStatistics: (d: Draft) => d.includeInStatistics
}

const draftColumns = (draft: Draft): Record<string, unknown> =>
  Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, value(draft)]))

/** Every column of an incident and its referrals, for reads decoded by decodeIncident. */
const INCIDENT_COLUMNS = sql`${allColumnsOf(incidents)}, ${REFERRALS}`

/** What an import writes, keyed on (source, external_id); the case (status, referrals) is never among it. */
export const INCIDENT_WRITES: BulkTable<ImportRow<Draft>> = {
  table: incidents,
  key: ['source', 'externalId'],
  read: { columns: sql`${allColumnsOf(incidents)}, ${REFERRALS}`, decode: decodeIncident },
  values: {
    id: (r) => r.id,
    source: (r) => r.draft.source,
    externalId: (r) => r.draft.externalId,
    ...Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, (r: ImportRow<Draft>) => value(r.draft)])),
    personalData: (r) => r.personalData,
    dataKey: (r) => r.dataKey,
    contentHash: (r) => r.contentHash,
    version: (r) => r.version
  }
}

/**
 * Rewrites one incident after a PATCH, if it is still at `version`. The content hash stays that of the last
 * import, so re-running an unchanged import keeps the city's corrections.
 */
export async function replaceIncident (db: Executor, cityId: string, version: number, row: { id: string, draft: Draft, personalData: Buffer | null, dataKey: Buffer | null } & CaseFields): Promise<IncidentRow | undefined> {
  const [updated] = await db.update(incidents).set({
    ...draftColumns(row.draft),
    personalData: row.personalData,
    dataKey: row.dataKey,
    status: row.status,
    resolution: row.resolution,
    duplicateOf: row.duplicateOf,
    version: sql`${incidents.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(incidents.cityId, cityId), eq(incidents.id, row.id), eq(incidents.version, version))).returning()
  if (updated === undefined) return undefined
  if (row.referralsChanged) await replaceReferrals(db, cityId, row.id, row.referrals)
  return { ...updated, referrals: row.referrals }
}

/**
 * Sets an incident's referrals: the old ones removed, the new ones written in order. Each points at a program
 * or a stakeholder of the same city (composite foreign keys). Run inside the PATCH's transaction.
 */
async function replaceReferrals (db: Executor, cityId: string, incidentId: string, referrals: Referral[]): Promise<void> {
  await db.execute(sql`DELETE FROM incident_referrals WHERE city_id = ${cityId} AND incident_id = ${incidentId}`)
  if (referrals.length === 0) return
  const ids = (kind: Referral['kind']) => textArrayLiteral(referrals.map((r) => r.kind === kind ? r.id : null))
  await db.execute(sql`INSERT INTO incident_referrals (city_id, incident_id, position, program_id, stakeholder_id, referred_on)
    SELECT ${cityId}::uuid, ${incidentId}::uuid, u.position - 1, u.program_id::uuid, u.stakeholder_id::uuid, u.referred_on::date
    FROM unnest(${ids('program')}::text[], ${ids('stakeholder')}::text[], ${textArrayLiteral(referrals.map((r) => r.referred_on))}::text[])
      WITH ORDINALITY AS u(program_id, stakeholder_id, referred_on, position)`)
}

/**
 * The referrals that point at no program (or stakeholder) of the city, by their position in the list: one
 * query for the whole list.
 */
export async function unknownReferrals (db: Executor, cityId: string, referrals: Referral[]): Promise<number[]> {
  if (referrals.length === 0) return []
  const rows = await query<{ position: number }>(db, sql`SELECT (u.position - 1)::int AS position
    FROM unnest(${textArrayLiteral(referrals.map((r) => r.kind))}::text[], ${textArrayLiteral(referrals.map((r) => r.id))}::text[]) WITH ORDINALITY AS u(kind, id, position)
    WHERE NOT (
      (u.kind = 'program' AND EXISTS (SELECT 1 FROM programs p WHERE p.city_id = ${cityId} AND p.id = u.id::uuid)) OR
      (u.kind = 'stakeholder' AND EXISTS (SELECT 1 FROM stakeholders s WHERE s.city_id = ${cityId} AND s.id = u.id::uuid)))
    ORDER BY 1`)
  return rows.map((r) => Number(r.position))
}

/** The case as the city handles it: written only by PATCH. */
export interface CaseFields { status: string, resolution: string | null, duplicateOf: string | null, referrals: Referral[], referralsChanged: boolean }

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
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${INCIDENT_COLUMNS} FROM incidents
    WHERE ${and(...conditions)} ORDER BY ${sql.join(orderBy, sql.raw(', '))} LIMIT ${filter.limit + 1}`)
  return rows.map(decodeIncident)
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
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE ${and(
    eq(incidents.cityId, cityId),
    sourceScope(sources),
    sql`${incidents.id} <> ${of.id}`,
    sql`${incidents.source} <> ${of.source}`,
    sql`${incidents.occurredOn} BETWEEN ${of.occurredOn}::date - 3 AND ${of.occurredOn}::date + 3`,
    sql`${incidents.biasMotivations} && ${textArrayLiteral(of.biasMotivations)}::text[]`,
    sql`(${sql.join(samePlace, sql` OR `)})`
  )} ORDER BY abs(${incidents.occurredOn} - ${of.occurredOn}::date), ${incidents.id} LIMIT ${limit}`)
  return rows.map(decodeIncident)
}

/**
 * These rows as a partner's key may see them: an incident marked as the duplicate of another source's report
 * shows no duplicate_of, since that id is of a report the key may not read. One query for a page.
 */
export async function withoutUnseenDuplicates (db: Executor, cityId: string, sources: string[] | null, rows: IncidentRow[]): Promise<IncidentRow[]> {
  const named = sources === null ? [] : [...new Set(rows.map((r) => r.duplicateOf).filter((id): id is string => id !== null))]
  if (sources === null || named.length === 0) return rows
  const seen = new Set((await query<{ id: string }>(db, sql`SELECT id FROM incidents WHERE city_id = ${cityId}
    AND id = ANY(${textArrayLiteral(named)}::uuid[]) AND source = ANY(${textArrayLiteral(sources)}::text[])`)).map((r) => r.id))
  return rows.map((r) => r.duplicateOf === null || seen.has(r.duplicateOf) ? r : { ...r, duplicateOf: null })
}
