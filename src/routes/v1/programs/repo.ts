import { and, eq, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { programs } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { settledChanges } from '../../../lib/change-feed.js'
import type { FieldError } from '../../../lib/problems.js'
import type { Reference } from '../../../lib/references.js'
import type { ProgramDraft } from './rules.js'
import type { ProgramListFilter } from './schema.js'

export type ProgramRow = typeof programs.$inferSelect

const COLUMNS = allColumnsOf(programs)
const decode = (raw: Record<string, unknown>): ProgramRow => decodeRow<ProgramRow>(programs, raw)

/** What refers to a program: a program that is referred to is archived (active: false), not deleted. */
export const PROGRAM_REFERENCES: Reference[] = [
  { what: 'incident referrals', table: 'incident_referrals', column: 'program_id', seenWith: { scope: 'incidents:read', sourced: true } },
  { what: 'actions of the prevention plan', table: 'actions', column: 'program_ids', array: true, seenWith: { scope: 'plans:read' } }
]

/** Where programs point at stakeholders: a stakeholder that provides a program is archived, not deleted. */
export const PROGRAM_STAKEHOLDER_REFERENCES: Reference[] = [
  { what: 'programs it provides', table: 'programs', column: 'provider_id' }
]

/** Each column a prepared program fills, declared once: for imports (set-based) and for PATCH alike. */
const DRAFT_COLUMNS = {
  name: (d: ProgramDraft) => d.name,
  description: (d: ProgramDraft) => d.description,
  providerId: (d: ProgramDraft) => d.providerId,
  serviceTypes: (d: ProgramDraft) => d.serviceTypes,
  languages: (d: ProgramDraft) => d.languages,
  neighborhoods: (d: ProgramDraft) => d.neighborhoods,
  eligibility: (d: ProgramDraft) => d.eligibility,
  publicEmail: (d: ProgramDraft) => d.publicEmail,
  publicPhone: (d: ProgramDraft) => d.publicPhone,
  url: (d: ProgramDraft) => d.url,
  active: (d: ProgramDraft) => d.active
}

const draftColumns = (draft: ProgramDraft): Record<string, unknown> =>
  Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, value(draft)]))

/** What an import writes, keyed on external_id (unique in the city). */
export const PROGRAM_WRITES: BulkTable<ImportRow<ProgramDraft>> = {
  table: programs,
  key: ['externalId'],
  read: { columns: COLUMNS, decode },
  values: {
    id: (r) => r.id,
    externalId: (r) => r.draft.externalId,
    ...Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, (r: ImportRow<ProgramDraft>) => value(r.draft)])),
    contentHash: (r) => r.contentHash,
    version: (r) => r.version
  }
}

export async function getProgram (db: Executor, cityId: string, id: string): Promise<ProgramRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM programs WHERE programs.city_id = ${cityId} AND programs.id = ${id}`)
  return row === undefined ? undefined : decode(row)
}

/** The programs stored under these external ids, whole, in one query. */
export async function findByExternalId (db: Executor, cityId: string, externalIds: string[]): Promise<ProgramRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM programs
    WHERE programs.city_id = ${cityId} AND programs.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decode)
}

/**
 * The providers many programs name, checked in one query: each must be a stakeholder of the city. Returns
 * each program's problems (paths relative to the item), or null.
 */
export async function providerProblems (db: Executor, cityId: string, drafts: Array<Pick<ProgramDraft, 'providerId'>>): Promise<Array<FieldError[] | null>> {
  const named = [...new Set(drafts.map((d) => d.providerId?.toLowerCase() ?? null).filter((id): id is string => id !== null))]
  if (named.length === 0) return drafts.map(() => null)
  const found = await query<{ id: string }>(db, sql`SELECT id FROM stakeholders WHERE city_id = ${cityId} AND id = ANY(${textArrayLiteral(named)}::uuid[])`)
  const known = new Set(found.map((f) => f.id))
  return drafts.map((d) => d.providerId === null || known.has(d.providerId.toLowerCase()) ? null : [{ path: '/provider_id', message: 'is not a stakeholder of this city' }])
}

/** Rewrites a program after a PATCH, if it is still at `version`; the content hash stays that of the last import. */
export async function replaceProgram (db: Executor, cityId: string, version: number, id: string, draft: ProgramDraft): Promise<ProgramRow | undefined> {
  const [updated] = await db.update(programs).set({
    ...draftColumns(draft),
    version: sql`${programs.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(programs.cityId, cityId), eq(programs.id, id), eq(programs.version, version))).returning()
  return updated
}

export async function deleteProgram (db: Executor, cityId: string, id: string): Promise<boolean> {
  const deleted = await db.delete(programs).where(and(eq(programs.cityId, cityId), eq(programs.id, id))).returning({ id: programs.id })
  return deleted.length === 1
}

export type ProgramPosition = { order: 'name', name: string, id: string } | { order: 'updated_asc', changeXid: number, id: string }

/**
 * One page of the directory, alphabetical (index on city, name, id) or as a change feed (city, change_xid,
 * id). A language matches its regional forms (es finds es-MX); a neighbourhood matches regardless of case,
 * and programs that name no neighbourhood serve the whole city.
 */
export async function listPrograms (db: Executor, cityId: string, filter: ProgramListFilter & { limit: number }, after: ProgramPosition | undefined): Promise<ProgramRow[]> {
  const order = filter.order ?? 'name'
  const conditions: Array<SQL | undefined> = [
    eq(programs.cityId, cityId),
    filter.service_type !== undefined ? sql`${programs.serviceTypes} @> ARRAY[${filter.service_type}]::text[]` : undefined,
    filter.language !== undefined
      ? sql`EXISTS (SELECT 1 FROM unnest(${programs.languages}) AS l WHERE lower(l) = lower(${filter.language}) OR lower(l) LIKE lower(${filter.language}) || '-%')`
      : undefined,
    filter.neighborhood !== undefined
      ? sql`(cardinality(${programs.neighborhoods}) = 0 OR EXISTS (SELECT 1 FROM unnest(${programs.neighborhoods}) AS n WHERE lower(n) = lower(${filter.neighborhood})))`
      : undefined,
    filter.provider_id !== undefined ? eq(programs.providerId, filter.provider_id) : undefined,
    filter.active !== undefined ? eq(programs.active, filter.active) : undefined,
    filter.updated_since !== undefined ? sql`${programs.updatedAt} >= ${filter.updated_since}::timestamptz` : undefined,
    order === 'updated_asc' ? settledChanges(programs.changeXid) : undefined,
    after?.order === 'name' ? sql`(${programs.name}, ${programs.id}) > (${after.name}, ${after.id}::uuid)` : undefined,
    after?.order === 'updated_asc' ? sql`(${programs.changeXid}, ${programs.id}) > (${after.changeXid}::bigint, ${after.id}::uuid)` : undefined
  ]
  const orderBy = order === 'name' ? sql`${programs.name}, ${programs.id}` : sql`${programs.changeXid}, ${programs.id}`
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM programs WHERE ${and(...conditions)} ORDER BY ${orderBy} LIMIT ${filter.limit + 1}`)
  return rows.map(decode)
}
