import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LRUCache } from 'lru-cache'
import { apiKeys, cities } from '../db/schema/index.js'
import { sha256Hex } from '../lib/crypto.js'
import { ProblemError } from '../lib/problems.js'
import { addRouteHook } from '../lib/route-hooks.js'
import { grants, isSharedKey } from '../lib/scopes.js'

/** The settings of the caller's city that writes and published figures depend on. */
export interface CitySettings {
  timezone: string
  smallCellThreshold: number
}

/** Who is calling: one API key of one city. */
export interface Caller {
  keyId: string
  cityId: string
  scopes: string[]
  /** The reporting sources a partner's key is limited to; null when not limited. */
  sources: string[] | null
  /**
   * Read with the key and kept with it: fresh after PATCH /v1/city in this process, and within
   * AUTH_CACHE_TTL_MS in others.
   */
  city: CitySettings
}

interface CachedKey extends Caller {
  expiresAt: number | null
  checkedAt: number
  touchedAt: number
  allowance: string
  /** A key that many people share (lib/scopes isSharedKey): told nothing of the allowance they share. */
  shared: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null
  }
  interface FastifyInstance {
    /** Drops a key from this process's memory at once (after a revoke). */
    forgetApiKey: (secretHash: string) => void
    /** Drops what this process remembers of a city's keys, so that their next request reads its settings again. */
    forgetCity: (cityId: string) => void
    /**
     * Whose allowance a request draws on: a key this process has verified, else the client's address. Known
     * at once (no promise) when the key is in memory, as it is for almost every request.
     */
    rateLimitSubject: (request: FastifyRequest) => string | Promise<string>
  }
}

/** The bearer token of a request, or null. */
export function bearerToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Bearer +([\x21-\x7e]{1,200})$/i.exec(header)
  return match?.[1] ?? null
}

/**
 * What this plugin works out once per request, kept on the request itself (declared with decorateRequest, so
 * every request has the same shape): the token's hash, and the look-up of its key.
 */
const TOKEN_HASH = Symbol('cohesion.tokenHash')
const KEY = Symbol('cohesion.key')
/** A verified key (null: none), or the look-up still under way when the database had to be asked. */
type KeyOf = CachedKey | null | Promise<CachedKey | null>
interface Resolved { [TOKEN_HASH]: string | null | undefined, [KEY]: KeyOf | undefined }
const resolvedOf = (request: FastifyRequest): Resolved => request as unknown as Resolved

/** The SHA-256 of the request's bearer token (what api_keys stores), computed once per request. */
export function bearerTokenHash (request: FastifyRequest): string | null {
  const resolved = resolvedOf(request)
  let hash = resolved[TOKEN_HASH]
  if (hash === undefined) {
    const token = bearerToken(request)
    hash = token === null ? null : sha256Hex(token)
    resolved[TOKEN_HASH] = hash
  }
  return hash
}

/** What a refused request is told about how to authenticate (RFC 6750). */
const CHALLENGE = { 'www-authenticate': 'Bearer realm="cohesion"' }

/** How often a key's last_used_at is written: often enough to tell a key in use, rarely enough to cost nothing. */
const TOUCH_INTERVAL_MS = 60_000
/**
 * How long a token that matches no key is remembered as unknown: a client repeating a wrong or revoked key
 * costs one look-up a minute, not one per request. Keys are random, so a new key never matches a token
 * guessed before it was made.
 */
const UNKNOWN_TTL_MS = 60_000

export interface AuthOptions {
  /** How long a verified key is trusted without asking the database again (AUTH_CACHE_TTL_MS). */
  cacheTtlMs: number
  /** The request allowance per window: also how many unknown keys one address may try before it is refused unread. */
  rateLimitMax: number
  rateLimitWindowMs: number
}

/**
 * Authenticates every route that declares `security` in its schema, and enforces the scopes listed there:
 * the spec and the check come from the same declaration. A verified key is remembered for
 * AUTH_CACHE_TTL_MS so that the hot path needs no query of its own; a revoke in this process forgets it at once.
 *
 * The key is resolved once per request, first by the rate limiter (a known key draws on its own allowance,
 * anything else on its address's), and the result is reused here. Guessing keys is made slow and cheap: an
 * address that has tried as many unknown keys as its allowance within a window is not looked up any more.
 */
export default fp<AuthOptions>(async (app, { cacheTtlMs, rateLimitMax, rateLimitWindowMs }) => {
  const cache = new LRUCache<string, CachedKey>({ max: 10_000 })
  // Kept apart from the verified keys, so that a flood of made-up tokens cannot push real keys out.
  const unknown = new LRUCache<string, true>({ max: 100_000, ttl: UNKNOWN_TTL_MS })
  const misses = new LRUCache<string, number>({ max: 100_000, ttl: rateLimitWindowMs })
  app.decorateRequest('caller', null)
  app.decorateRequest(TOKEN_HASH, undefined)
  app.decorateRequest(KEY, undefined)
  app.decorate('forgetApiKey', (secretHash: string) => { cache.delete(secretHash) })
  app.decorate('forgetCity', (cityId: string) => {
    for (const [hash, entry] of cache.entries()) if (entry.cityId === cityId) cache.delete(hash)
  })
  app.decorate('rateLimitSubject', (request: FastifyRequest): string | Promise<string> => {
    const subject = (entry: CachedKey | null): string => entry === null ? `ip:${request.ip}` : entry.allowance
    const entry = keyOf(request)
    return entry instanceof Promise ? entry.then(subject) : subject(entry)
  })

  const findKey = app.db.select({
    cityId: apiKeys.cityId,
    keyId: apiKeys.id,
    scopes: apiKeys.scopes,
    sources: apiKeys.sources,
    expiresAt: apiKeys.expiresAt,
    lastUsedAt: apiKeys.lastUsedAt,
    timezone: cities.timezone,
    smallCellThreshold: cities.smallCellThreshold
  }).from(apiKeys).innerJoin(cities, eq(cities.id, apiKeys.cityId))
    .where(and(eq(apiKeys.secretHash, sql.placeholder('hash')), isNull(apiKeys.revokedAt))).limit(1).prepare('find_api_key')

  /** The request's key, verified (null: none, unknown, revoked, or not looked up for a guessing address). */
  function keyOf (request: FastifyRequest): KeyOf {
    const resolved = resolvedOf(request)
    let entry = resolved[KEY]
    if (entry === undefined) {
      const hash = bearerTokenHash(request)
      entry = hash === null ? null : lookup(hash, request.ip, Date.now())
      resolved[KEY] = entry
      // Once looked up, the key is known at once to what asks later in the request (the answer's headers).
      if (entry instanceof Promise) entry.then((found) => { resolved[KEY] = found }, () => {})
    }
    return entry
  }

  /** The key from memory when this process verified it within AUTH_CACHE_TTL_MS; else the database is asked. */
  function lookup (secretHash: string, address: string, now: number): KeyOf {
    const hit = cache.get(secretHash)
    if (hit !== undefined && now - hit.checkedAt < cacheTtlMs) return hit
    if (unknown.has(secretHash)) return null
    const tried = misses.get(address) ?? 0
    if (hit === undefined && tried >= rateLimitMax) return null
    return verify(secretHash, address, now, hit, tried)
  }

  async function verify (secretHash: string, address: string, now: number, hit: CachedKey | undefined, tried: number): Promise<CachedKey | null> {
    const [row] = await findKey.execute({ hash: secretHash })
    if (row === undefined) {
      cache.delete(secretHash)
      if (cacheTtlMs > 0) unknown.set(secretHash, true)
      misses.set(address, tried + 1, { noUpdateTTL: tried > 0 })
      return null
    }
    const entry: CachedKey = {
      keyId: row.keyId,
      cityId: row.cityId,
      scopes: row.scopes,
      sources: row.sources,
      city: { timezone: row.timezone, smallCellThreshold: row.smallCellThreshold },
      expiresAt: row.expiresAt?.getTime() ?? null,
      checkedAt: now,
      touchedAt: hit?.touchedAt ?? row.lastUsedAt?.getTime() ?? 0,
      allowance: `key:${row.keyId}`,
      shared: isSharedKey(row.scopes)
    }
    cache.set(secretHash, entry)
    return entry
  }

  function touch (entry: CachedKey, now: number, request: FastifyRequest): void {
    if (now - entry.touchedAt < TOUCH_INTERVAL_MS) return
    entry.touchedAt = now
    // Off the request's path: a failed bookkeeping write must not fail the request.
    app.db.update(apiKeys).set({ lastUsedAt: sql`now()` })
      .where(and(eq(apiKeys.cityId, entry.cityId), eq(apiKeys.id, entry.keyId),
        or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
      .catch((err: Error) => { request.log.warn({ err }, 'could not record key use') })
  }

  /**
   * Authenticates the request and checks the scopes its route declares. preParsing rather than onRequest: the
   * rate limiter hooks each route's own onRequest, which runs after every instance-level onRequest hook, so an
   * auth check there would refuse keyless and unknown-key requests before they are counted. preParsing still
   * runs before any body is read. A key this process has verified is admitted at once; only a look-up in the
   * database makes the request wait.
   */
  function authenticate (request: FastifyRequest, needed: string[][]): Promise<void> | undefined {
    const hash = bearerTokenHash(request)
    if (hash === null) throw new ProblemError('unauthorized', 'Send an API key as `Authorization: Bearer <key>`.', { headers: CHALLENGE })
    const found = keyOf(request)
    if (found instanceof Promise) return found.then((entry) => { admit(request, entry, needed) })
    admit(request, found, needed)
    return undefined
  }

  function admit (request: FastifyRequest, entry: CachedKey | null, needed: string[][]): void {
    const now = Date.now()
    if (entry === null || (entry.expiresAt !== null && entry.expiresAt <= now)) {
      throw new ProblemError('unauthorized', 'The API key is unknown, revoked or expired.', { headers: CHALLENGE })
    }
    const refusal = missingScopes(entry.scopes, needed)
    if (refusal !== null) throw new ProblemError('forbidden', refusal)
    request.caller = { keyId: entry.keyId, cityId: entry.cityId, scopes: entry.scopes, sources: entry.sources, city: entry.city }
    touch(entry, now, request)
  }

  /**
   * Everyone who uses a shared, submit-only key draws on one allowance; what is left of it counts the others'
   * requests, so such a key is told none of the RateLimit-* figures (a 429 keeps only its Retry-After).
   */
  const ALLOWANCE_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']
  app.addHook('onSend', (request, reply, payload, done) => {
    const entry = resolvedOf(request)[KEY]
    if (entry != null && !(entry instanceof Promise) && entry.shared) for (const name of ALLOWANCE_HEADERS) reply.removeHeader(name)
    done(null, payload)
  })

  // Only routes that declare `security` get the hook, with their scopes read once, when the route is added.
  app.addHook('onRoute', (route) => {
    const security = route.schema?.security as Array<Record<string, string[]>> | undefined
    if (security === undefined || security.length === 0) return
    // Alternatives, as OpenAPI reads them: the scopes of any one entry admit the request.
    const needed = security.map((entry) => entry.bearer ?? [])
    const hook = (request: FastifyRequest, _reply: unknown, _payload: unknown, done: (err?: Error | null) => void): void => {
      let waiting: Promise<void> | undefined
      try {
        waiting = authenticate(request, needed)
      } catch (err) {
        done(err as Error)
        return
      }
      if (waiting === undefined) done(null)
      else waiting.then(() => { done(null) }, done)
    }
    addRouteHook(route, 'preParsing', hook)
  })
}, { name: 'auth', dependencies: ['db'] })

/**
 * Why a key holding `held` is refused an operation that any one of `alternatives` admits (each a list of
 * scopes needed together), or null when it is admitted.
 */
export function missingScopes (held: readonly string[], alternatives: string[][]): string | null {
  let closest: string[] | undefined
  for (const needed of alternatives) {
    const missing = needed.filter((scope) => !grants(held, scope))
    if (missing.length === 0) return null
    if (closest === undefined || missing.length < closest.length) closest = missing
  }
  const lacks = (missing: string[]): string => `the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`
  if (alternatives.length === 1) return `The API key lacks ${lacks(closest ?? [])}.`
  return `The API key lacks ${lacks(closest ?? [])}; this operation takes ${alternatives.map((needed) => needed.join(' + ')).join(', or ')}.`
}

/** The caller of a route that declares security; the auth hook has already refused anyone else. */
export function callerOf (request: FastifyRequest): Caller {
  if (request.caller === null) throw new Error('route without security asked for its caller')
  return request.caller
}
