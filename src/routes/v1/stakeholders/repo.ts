import { and, eq, sql, type SQL } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../../../db/client.js'
import { stakeholders } from '../../../db/schema/index.js'
import type { ImportRow } from '../../../lib/batch.js'
import { allColumnsOf, decodeRow, type BulkTable } from '../../../lib/bulk-upsert.js'
import { settledChanges } from '../../../lib/change-feed.js'
import type { FieldError } from '../../../lib/problems.js'
import type { Reference } from '../../../lib/references.js'
import type { StakeholderDraft } from './rules.js'
import type { StakeholderListFilter } from './schema.js'

export type StakeholderRow = typeof stakeholders.$inferSelect

/** Each column a prepared stakeholder fills, declared once: for imports (set-based) and for PATCH alike. */
const DRAFT_COLUMNS = {
  kind: (d: StakeholderDraft) => d.kind,
  name: (d: StakeholderDraft) => d.name,
  organizationId: (d: StakeholderDraft) => d.organizationId,
  title: (d: StakeholderDraft) => d.title,
  category: (d: StakeholderDraft) => d.category,
  portfolio: (d: StakeholderDraft) => d.portfolio,
  communitiesServed: (d: StakeholderDraft) => d.communitiesServed,
  languages: (d: StakeholderDraft) => d.languages,
  engagementLevel: (d: StakeholderDraft) => d.engagementLevel,
  leadershipRole: (d: StakeholderDraft) => d.leadershipRole,
  leadershipJoinedOn: (d: StakeholderDraft) => d.leadershipJoinedOn,
  leadershipLeftOn: (d: StakeholderDraft) => d.leadershipLeftOn,
  existingInitiatives: (d: StakeholderDraft) => d.existingInitiatives,
  tags: (d: StakeholderDraft) => d.tags,
  active: (d: StakeholderDraft) => d.active
}

/** What an import writes, keyed on external_id (unique in the city). */
export const STAKEHOLDER_WRITES: BulkTable<ImportRow<StakeholderDraft>> = {
  table: stakeholders,
  key: ['externalId'],
  values: {
    id: (r) => r.id,
    externalId: (r) => r.draft.externalId,
    ...Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, (r: ImportRow<StakeholderDraft>) => value(r.draft)])),
    personalData: (r) => r.personalData,
    dataKey: (r) => r.dataKey,
    contentHash: (r) => r.contentHash,
    version: (r) => r.version
  }
}

const COLUMNS = allColumnsOf(stakeholders)
const decode = (raw: Record<string, unknown>): StakeholderRow => decodeRow<StakeholderRow>(stakeholders, raw)

export async function getStakeholder (db: Executor, cityId: string, id: string): Promise<StakeholderRow | undefined> {
  const [row] = await db.select().from(stakeholders).where(and(eq(stakeholders.cityId, cityId), eq(stakeholders.id, id))).limit(1)
  return row
}

/** The stakeholders stored under these external ids, whole, in one query. */
export async function findByExternalId (db: Executor, cityId: string, externalIds: string[]): Promise<StakeholderRow[]> {
  if (externalIds.length === 0) return []
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM stakeholders
    WHERE stakeholders.city_id = ${cityId} AND stakeholders.external_id = ANY(${textArrayLiteral(externalIds)}::text[])`)
  return rows.map(decode)
}

/**
 * The organisations the drafts name, checked in one query: each must be an organisation stakeholder of the
 * city. Returns the problems of each draft, or null.
 */
export async function organizationProblems (db: Executor, cityId: string, drafts: StakeholderDraft[]): Promise<Array<FieldError[] | null>> {
  const named = [...new Set(drafts.map((d) => d.organizationId).filter((id): id is string => id !== null))]
  if (named.length === 0) return drafts.map(() => null)
  const found = await query<{ id: string, kind: string }>(db, sql`SELECT id, kind FROM stakeholders
    WHERE city_id = ${cityId} AND id = ANY(${textArrayLiteral(named)}::uuid[])`)
  const organizations = new Set(found.filter((f) => f.kind === 'organization').map((f) => f.id))
  return drafts.map((d) => d.organizationId === null || organizations.has(d.organizationId)
    ? null
    : [{ path: '/organization_id', message: 'is not an organisation stakeholder of this city' }])
}

/** Rewrites a stakeholder after a PATCH, if it is still at `version`. */
export async function replaceStakeholder (db: Executor, cityId: string, version: number, row: { id: string, draft: StakeholderDraft, personalData: Buffer | null, dataKey: Buffer | null }): Promise<StakeholderRow | undefined> {
  const [updated] = await db.update(stakeholders).set({
    ...Object.fromEntries(Object.entries(DRAFT_COLUMNS).map(([property, value]) => [property, value(row.draft)])),
    personalData: row.personalData,
    dataKey: row.dataKey,
    version: sql`${stakeholders.version} + 1`,
    updatedAt: sql`now()`
  }).where(and(eq(stakeholders.cityId, cityId), eq(stakeholders.id, row.id), eq(stakeholders.version, version))).returning()
  return updated
}

/** Everything that can point at a stakeholder: such a stakeholder is archived, not deleted. */
export const STAKEHOLDER_REFERENCES: Reference[] = [
  { what: 'members of this organisation', table: 'stakeholders', column: 'organization_id' },
  { what: 'relationships', table: 'stakeholder_relationships', column: 'from_id' },
  { what: 'relationships', table: 'stakeholder_relationships', column: 'to_id' },
  { what: 'meeting attendance', table: 'meeting_attendees', column: 'stakeholder_id' },
  { what: 'programs it provides', table: 'programs', column: 'provider_id' },
  { what: 'incident referrals', table: 'incident_referrals', column: 'stakeholder_id', seenWith: { scope: 'incidents:read', sourced: true } },
  { what: 'actions it owns', table: 'actions', column: 'owner_id', seenWith: { scope: 'plans:read' } },
  { what: 'actions it is a partner in', table: 'actions', column: 'partner_ids', array: true, seenWith: { scope: 'plans:read' } }
]

export async function deleteStakeholder (db: Executor, cityId: string, id: string): Promise<boolean> {
  const deleted = await db.delete(stakeholders).where(and(eq(stakeholders.cityId, cityId), eq(stakeholders.id, id))).returning({ id: stakeholders.id })
  return deleted.length === 1
}

export type StakeholderPosition = { order: 'name', name: string, id: string } | { order: 'updated_asc', changeXid: number, id: string }

/**
 * One page of stakeholders, alphabetical (index on city, name, id) or as a change feed (city, change_xid, id).
 * `today` (the city's day) decides who sits in the leadership group now.
 */
export async function listStakeholders (db: Executor, cityId: string, filter: StakeholderListFilter & { limit: number }, today: string, after: StakeholderPosition | undefined): Promise<StakeholderRow[]> {
  const order = filter.order ?? 'name'
  const member = sql`(${stakeholders.leadershipRole} IS NOT NULL AND (${stakeholders.leadershipLeftOn} IS NULL OR ${stakeholders.leadershipLeftOn} > ${today}::date))`
  const conditions: Array<SQL | undefined> = [
    eq(stakeholders.cityId, cityId),
    filter.category !== undefined ? eq(stakeholders.category, filter.category) : undefined,
    filter.leg !== undefined ? eq(stakeholders.leg, filter.leg) : undefined,
    filter.engagement_level !== undefined ? eq(stakeholders.engagementLevel, filter.engagement_level) : undefined,
    filter.leadership_group === true ? member : filter.leadership_group === false ? sql`NOT ${member}` : undefined,
    filter.tag !== undefined ? sql`${stakeholders.tags} @> ARRAY[${filter.tag}]::text[]` : undefined,
    filter.language !== undefined ? sql`${stakeholders.languages} @> ARRAY[${filter.language}]::text[]` : undefined,
    filter.active !== undefined ? eq(stakeholders.active, filter.active) : undefined,
    filter.updated_since !== undefined ? sql`${stakeholders.updatedAt} >= ${filter.updated_since}::timestamptz` : undefined,
    order === 'updated_asc' ? settledChanges(stakeholders.changeXid) : undefined,
    after?.order === 'name' ? sql`(${stakeholders.name}, ${stakeholders.id}) > (${after.name}, ${after.id}::uuid)` : undefined,
    after?.order === 'updated_asc' ? sql`(${stakeholders.changeXid}, ${stakeholders.id}) > (${after.changeXid}::bigint, ${after.id}::uuid)` : undefined
  ]
  const orderBy = order === 'name' ? sql`${stakeholders.name}, ${stakeholders.id}` : sql`${stakeholders.changeXid}, ${stakeholders.id}`
  const rows = await query<Record<string, unknown>>(db, sql`SELECT ${COLUMNS} FROM stakeholders WHERE ${and(...conditions)} ORDER BY ${orderBy} LIMIT ${filter.limit + 1}`)
  return rows.map(decode)
}
