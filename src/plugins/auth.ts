import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LRUCache } from 'lru-cache'
import { apiKeys } from '../db/schema/index.js'
import { sha256Hex } from '../lib/crypto.js'
import { ProblemError } from '../lib/problems.js'
import { grants } from '../lib/scopes.js'

/** Who is calling: one API key of one city. */
export interface Caller {
  keyId: string
  cityId: string
  scopes: string[]
  /** The reporting sources a partner's key is limited to; null when not limited. */
  sources: string[] | null
}

interface CachedKey extends Caller { expiresAt: number | null, checkedAt: number, touchedAt: number }

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null
  }
  interface FastifyInstance {
    /** Drops a key from this process's memory at once (after a revoke). */
    forgetApiKey: (secretHash: string) => void
  }
}

/** The bearer token of a request, or null. */
export function bearerToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Bearer +([\x21-\x7e]{1,200})$/i.exec(header)
  return match?.[1] ?? null
}

const hashes = new WeakMap<FastifyRequest, string | null>()

/** The SHA-256 of the request's bearer token (what api_keys stores), computed once per request. */
export function bearerTokenHash (request: FastifyRequest): string | null {
  let hash = hashes.get(request)
  if (hash === undefined) {
    const token = bearerToken(request)
    hash = token === null ? null : sha256Hex(token)
    hashes.set(request, hash)
  }
  return hash
}

/** How often a key's last_used_at is written: often enough to tell a key in use, rarely enough to cost nothing. */
const TOUCH_INTERVAL_MS = 60_000

/**
 * Authenticates every route that declares `security` in its schema, and enforces the scopes listed there:
 * the spec and the check come from the same declaration. A verified key is remembered for
 * AUTH_CACHE_TTL_MS so that the hot path needs no query of its own; a revoke in this process forgets it at once.
 */
export default fp<{ cacheTtlMs: number }>(async (app, { cacheTtlMs }) => {
  const cache = new LRUCache<string, CachedKey>({ max: 10_000 })
  app.decorateRequest('caller', null)
  app.decorate('forgetApiKey', (secretHash: string) => { cache.delete(secretHash) })

  const findKey = app.db.select({
    cityId: apiKeys.cityId, keyId: apiKeys.id, scopes: apiKeys.scopes, sources: apiKeys.sources, expiresAt: apiKeys.expiresAt, lastUsedAt: apiKeys.lastUsedAt
  }).from(apiKeys).where(and(eq(apiKeys.secretHash, sql.placeholder('hash')), isNull(apiKeys.revokedAt))).limit(1).prepare('find_api_key')

  async function lookup (secretHash: string, now: number): Promise<CachedKey | null> {
    const hit = cache.get(secretHash)
    if (hit !== undefined && now - hit.checkedAt < cacheTtlMs) return hit
    const [row] = await findKey.execute({ hash: secretHash })
    if (row === undefined) { cache.delete(secretHash); return null }
    const entry: CachedKey = {
      keyId: row.keyId,
      cityId: row.cityId,
      scopes: row.scopes,
      sources: row.sources,
      expiresAt: row.expiresAt?.getTime() ?? null,
      checkedAt: now,
      touchedAt: hit?.touchedAt ?? row.lastUsedAt?.getTime() ?? 0
    }
    if (cacheTtlMs > 0) cache.set(secretHash, entry)
    return entry
  }

  function touch (entry: CachedKey, now: number, request: FastifyRequest): void {
    if (now - entry.touchedAt < TOUCH_INTERVAL_MS) return
    entry.touchedAt = now
    // Off the request's path: a failed bookkeeping write must not fail the request.
    app.db.update(apiKeys).set({ lastUsedAt: sql`now()` })
      .where(and(eq(apiKeys.cityId, entry.cityId), eq(apiKeys.id, entry.keyId),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
      .catch((err: Error) => { request.log.warn({ err: { message: err.message } }, 'could not record key use') })
  }

  // preParsing rather than onRequest: the rate limiter hooks each route's own onRequest, which runs after every
  // instance-level onRequest hook, so an auth check there would refuse keyless and unknown-key requests before
  // they are counted. preParsing still runs before any body is read.
  app.addHook('preParsing', async (request) => {
    const security = request.routeOptions.schema?.security as Array<Record<string, string[]>> | undefined
    if (security === undefined || security.length === 0) return
    const needed = security[0]?.bearer ?? []
    const hash = bearerTokenHash(request)
    const challenge = { 'www-authenticate': 'Bearer realm="cohesion"' }
    if (hash === null) throw new ProblemError('unauthorized', 'Send an API key as `Authorization: Bearer <key>`.', { headers: challenge })
    const now = Date.now()
    const entry = await lookup(hash, now)
    if (entry === null || (entry.expiresAt !== null && entry.expiresAt <= now)) {
      throw new ProblemError('unauthorized', 'The API key is unknown, revoked or expired.', { headers: challenge })
    }
    const missing = needed.filter((scope) => !grants(entry.scopes, scope))
    if (missing.length > 0) {
      throw new ProblemError('forbidden', `The API key lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`)
    }
    request.caller = { keyId: entry.keyId, cityId: entry.cityId, scopes: entry.scopes, sources: entry.sources }
    touch(entry, now, request)
  })
}, { name: 'auth', dependencies: ['db'] })

/** The caller of a route that declares security; the auth hook has already refused anyone else. */
export function callerOf (request: FastifyRequest): Caller {
  if (request.caller === null) throw new Error('route without security asked for its caller')
  return request.caller
}
