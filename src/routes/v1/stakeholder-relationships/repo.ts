import { and, eq, or, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { stakeholderRelationships } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { settledChanges } from '../../../lib/change-feed.js'
import type { FieldError } from '../../../lib/problems.js'
import type { Reference } from '../../../lib/references.js'
import type { RelationshipDraft } from './rules.js'
import type { RelationshipListFilter } from './schema.js'

export type RelationshipRow = typeof stakeholderRelationships.$inferSelect

const table = stakeholderRelationships
const COLUMNS = allColumnsOf(table)
const decode = (raw: Record<string, unknown>): RelationshipRow => decodeRow<RelationshipRow>(table, raw)

/** Where relationships point at stakeholders: a stakeholder that is an end of a tie is archived, not deleted. */
export const RELATIONSHIP_STAKEHOLDER_REFERENCES: Reference[] = [
  { what: 'relationships from it', table: 'stakeholder_relationships', column: 'from_id' },
  { what: 'relationships to it', table: 'stakeholder_relationships', column: 'to_id' }
]

/** Each column a prepared relationship fills, declared once: for imports (set-based) and for PATCH alike. */
const DRAFT_COLUMNS = {
  fromId: (d: RelationshipDraft) => d.fromId,
  toId: (d: RelationshipDraft) => d.toId,
  type: (d: RelationshipDraft) => d.type,
  strength: (d: RelationshipDraft) => d.strength,
  since: (d: RelationshipDraft) => d.since,
  until: (d: RelationshipDraft) => d.until,
  notes: (d: RelationshipDraft) => d.notes
}

const draftColumns = (draft: RelationshipDraft): Record<string, unknown> =>
  Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, value(draft)]))

/** What an import writes, keyed on external_id (unique in the city). */
export const RELATIONSHIP_WRITES: BulkTable<ImportRow<RelationshipDraft>> = {
  table,
  key: ['externalId'],
  read: { columns: COLUMNS, decode },
  values: {
    id: (r) => r.id,
    externalId: (r) => r.draft.externalId,
    ...Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, (r: ImportRow<RelationshipDraft>) => value(r.draft)])),
    contentHash: (r) => r.contentHash,
    version: (r) => r.version
  }
}

export async function getRelationship (db: Executor, cityId: string, id: string): Promise<RelationshipRow | undefined> {
  const [row] = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM stakeholder_relationships
    WHERE stakeholder_relationships.city_id = ${cityId} AND stakeholder_relationships.id = ${id}`)
  return row === undefined ? undefined : decode(row)
}

/** The relationships stored under these external ids, whole, in one query. */
export async function findByExternalId (db: Executor, cityId: string, externalIds: string[]): Promise<RelationshipRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM stakeholder_relationships
    WHERE stakeholder_relationships.city_id = ${cityId} AND stakeholder_relationships.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decode)
}

/** The ends of a tie as an item names them: by id or by the stakeholder's external_id (either may be missing). */
export type Ends = Pick<RelationshipDraft, 'fromId' | 'toId' | 'fromExternalId' | 'toExternalId'>

/**
 * Checks the ends of many relationships in one query: each must be a stakeholder of the city, and the two
 * ends different. An end named by external_id gets its id filled in. Returns each item's problems (paths
 * relative to the item), or null.
 */
export async function resolveEnds<E extends Ends> (db: Executor, cityId: string, items: E[]): Promise<Array<FieldError[] | null>> {
  const ids = new Set<string>()
  const externalIds = new Set<string>()
  for (const item of items) {
    item.fromId = item.fromId?.toLowerCase() ?? null
    item.toId = item.toId?.toLowerCase() ?? null
    for (const id of [item.fromId, item.toId]) if (id !== null) ids.add(id)
    for (const externalId of [item.fromExternalId, item.toExternalId]) if (externalId !== null) externalIds.add(externalId)
  }
  const found = ids.size + externalIds.size === 0
    ? []
    : await query<{ id: string, external_id: string | null }>(db, sql`SELECT id, external_id FROM stakeholders
        WHERE city_id = ${cityId} AND (id = ANY(${textArrayLiteral([...ids])}::uuid[]) OR external_id = ANY(${textArrayLiteral([...externalIds])}::text[]))`)
  const known = new Set(found.map((f) => f.id))
  const byExternalId = new Map(found.filter((f) => f.external_id !== null).map((f) => [f.external_id as string, f.id]))
  return items.map((item) => {
    const problems: FieldError[] = []
    const resolve = (end: 'from' | 'to', id: string | null, externalId: string | null): string | null => {
      if (externalId !== null) {
        const resolved = byExternalId.get(externalId)
        if (resolved === undefined) problems.push({ path: `/${end}_external_id`, message: 'names no stakeholder of this city' })
        return resolved ?? null
      }
      if (id !== null && !known.has(id)) problems.push({ path: `/${end}_id`, message: 'is not a stakeholder of this city' })
      return id
    }
    item.fromId = resolve('from', item.fromId, item.fromExternalId)
    item.toId = resolve('to', item.toId, item.toExternalId)
    if (problems.length === 0 && item.fromId !== null && item.fromId === item.toId) {
      problems.push({ path: item.toExternalId !== null ? '/to_external_id' : '/to_id', message: 'must name another stakeholder than the from end' })
    }
    return problems.length > 0 ? problems : null
  })
}

/** Rewrites a relationship after a PATCH, if it is still at `version`; the content hash stays that of the last import. */
export async function replaceRelationship (db: Executor, cityId: string, version: number, id: string, draft: RelationshipDraft): Promise<RelationshipRow | undefined> {
  const [updated] = await db.update(table).set({
    ...draftColumns(draft),
    version: sql`${table.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(table.cityId, cityId), eq(table.id, id), eq(table.version, version))).returning()
  return updated
}

export async function deleteRelationship (db: Executor, cityId: string, id: string): Promise<RelationshipRow | undefined> {
  const [deleted] = await db.delete(table).where(and(eq(table.cityId, cityId), eq(table.id, id))).returning()
  return deleted
}

export type RelationshipPosition = { order: 'created_desc', id: string } | { order: 'updated_asc', changeXid: number, id: string }

/**
 * One page of relationships, newest first (the primary key's index) or as a change feed (city, change_xid,
 * id). Whether a tie is still active is decided by `today`, the city's day.
 */
export async function listRelationships (db: Executor, cityId: string, filter: RelationshipListFilter & { limit: number }, today: string, after: RelationshipPosition | undefined): Promise<RelationshipRow[]> {
  const order = filter.order ?? 'created_desc'
  const conditions: Array<SQL | undefined> = [
    eq(table.cityId, cityId),
    filter.stakeholder_id !== undefined ? or(eq(table.fromId, filter.stakeholder_id), eq(table.toId, filter.stakeholder_id)) : undefined,
    filter.type !== undefined ? eq(table.type, filter.type) : undefined,
    filter.active === true ? sql`(${table.until} IS NULL OR ${table.until} >= ${today}::date)` : undefined,
    filter.active === false ? sql`${table.until} < ${today}::date` : undefined,
    filter.updated_since !== undefined ? sql`${table.updatedAt} >= ${filter.updated_since}::timestamptz` : undefined,
    order === 'updated_asc' ? settledChanges(table.changeXid) : undefined,
    after?.order === 'created_desc' ? sql`${table.id} < ${after.id}::uuid` : undefined,
    after?.order === 'updated_asc' ? sql`(${table.changeXid}, ${table.id}) > (${after.changeXid}::bigint, ${after.id}::uuid)` : undefined
  ]
  const orderBy = order === 'created_desc' ? sql`${table.id} DESC` : sql`${table.changeXid}, ${table.id}`
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM stakeholder_relationships
    WHERE ${and(...conditions)} ORDER BY ${orderBy} LIMIT ${filter.limit + 1}`)
  return rows.map(decode)
}
