import { and, desc, eq, gt, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm'
import { textArrayLiteral, type Executor } from '../../../db/client.js'
import { apiKeys } from '../../../db/schema/index.js'
import { generateApiKey } from '../../../lib/crypto.js'
import { newId } from '../../../lib/ids.js'
import type { ApiKey } from './schema.js'

type ApiKeyRow = typeof apiKeys.$inferSelect

export function toApiKey (row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    display_prefix: row.displayPrefix,
    scopes: row.scopes as ApiKey['scopes'],
    sources: row.sources,
    created_by_key_id: row.createdByKeyId,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null
  }
}

export interface NewApiKey {
  name: string
  scopes: string[]
  sources?: string[] | null
  expiresAt?: Date | null
  createdByKeyId?: string | null
}

/** Stores a new key's hash and returns the only copy of its secret. */
export async function createApiKey (db: Executor, cityId: string, input: NewApiKey): Promise<{ row: ApiKeyRow, key: string }> {
  const secret = generateApiKey()
  const [row] = await db.insert(apiKeys).values({
    cityId,
    id: newId(),
    name: input.name,
    displayPrefix: secret.displayPrefix,
    secretHash: secret.secretHash,
    scopes: input.scopes,
    sources: input.sources ?? null,
    createdByKeyId: input.createdByKeyId ?? null,
    expiresAt: input.expiresAt ?? null
  }).returning()
  return { row: row as ApiKeyRow, key: secret.key }
}

export async function getApiKey (db: Executor, cityId: string, sources: string[] | null, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.cityId, cityId), eq(apiKeys.id, id), withinSources(sources))).limit(1)
  return row
}

const STATES: Record<string, SQL | undefined> = {
  active: and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql`now()`))),
  revoked: isNotNull(apiKeys.revokedAt),
  expired: and(isNull(apiKeys.revokedAt), lte(apiKeys.expiresAt, sql`now()`))
}

/**
 * The keys a key limited to `sources` manages: those limited to some of its sources (null: every key). A
 * partner's administrator never sees the city's own keys or another partner's.
 */
export const withinSources = (sources: string[] | null): SQL | undefined =>
  sources === null ? undefined : sql`${apiKeys.sources} IS NOT NULL AND ${apiKeys.sources} <@ ${textArrayLiteral(sources)}::text[]`

/** Newest first; `before` is the id of the last key of the previous page. */
export async function listApiKeys (db: Executor, cityId: string, sources: string[] | null, options: { limit: number, before?: string, state?: string }): Promise<ApiKeyRow[]> {
  return await db.select().from(apiKeys).where(and(
    eq(apiKeys.cityId, cityId),
    withinSources(sources),
    options.before !== undefined ? lt(apiKeys.id, options.before) : undefined,
    options.state !== undefined ? STATES[options.state] : undefined
  )).orderBy(desc(apiKeys.id)).limit(options.limit + 1)
}

/** Revokes a key for good; revoking twice keeps the first time. */
export async function revokeApiKey (db: Executor, cityId: string, sources: string[] | null, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.update(apiKeys).set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.cityId, cityId), eq(apiKeys.id, id), withinSources(sources))).returning()
  return row
}

/** Revokes by id alone, for the operator's command line, which has no city in hand. */
export async function revokeApiKeyAnywhere (db: Executor, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db.update(apiKeys).set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id)).returning()
  return row
}

/**
 * Gives a key a new secret and keeps everything else: its id, scopes, sources, and with the id what is bound to
 * it (import comparisons, Idempotency-Keys, the audit trail). The old secret stops working. Answers the old
 * secret's hash (to forget it) and the new secret; undefined for a key that is missing, revoked or expired.
 */
export async function rotateApiKey (db: Executor, cityId: string, sources: string[] | null, id: string): Promise<{ row: ApiKeyRow, key: string, oldSecretHash: string } | undefined> {
  const [current] = await db.select({ secretHash: apiKeys.secretHash }).from(apiKeys)
    .where(and(eq(apiKeys.cityId, cityId), eq(apiKeys.id, id), STATES.active, withinSources(sources))).for('update').limit(1)
  if (current === undefined) return undefined
  const secret = generateApiKey()
  const [row] = await db.update(apiKeys).set({ secretHash: secret.secretHash, displayPrefix: secret.displayPrefix })
    .where(and(eq(apiKeys.cityId, cityId), eq(apiKeys.id, id))).returning()
  return { row: row as ApiKeyRow, key: secret.key, oldSecretHash: current.secretHash }
}
