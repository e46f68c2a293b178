import { and, eq, isNull, sql } from 'drizzle-orm'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { query, type Executor } from '../db/client.js'
import { idempotencyKeys } from '../db/schema/index.js'
import { open, seal, sha256Hex } from '../lib/crypto.js'
import { ProblemError } from '../lib/problems.js'
import { isSharedKey } from '../lib/scopes.js'
import { addRouteHook } from '../lib/route-hooks.js'
import type { Caller } from './auth.js'

interface Claim {
  caller: Caller
  key: string
  /** The answer stored inside a write's transaction; it stands only if that answer is the one sent. */
  answer: string | null
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: Claim | null
    /**
     * The answer asks the client to send the same request again (a write that met a concurrent one): its
     * Idempotency-Key is released instead of storing the answer, so the retry runs the request again.
     */
    retryable: boolean
  }
  interface FastifyReply {
    /**
     * Serializes the answer of a POST (with the status already set) and, when the request holds an
     * Idempotency-Key, stores it for replays in the transaction `tx` of the write itself: the change and its
     * replay commit together, so a client that loses the answer (a restart, a dropped connection) and retries
     * gets this answer back, never a second write. Returns the JSON text for `reply.send`.
     */
    answerWithin: (tx: Executor, body: unknown) => Promise<string>
  }
}

/**
 * How long a claim holds its key without being renewed. A running request renews it, so only a request
 * that died (with its process) keeps a key busy, and never for longer than this.
 */
const LEASE_SECONDS = 15
const RENEW_EVERY_MS = 5_000
/** Response headers a replay must repeat. */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag']
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
const CLEANUP_EVERY_MS = 15 * 60_000
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Stripe's Idempotency-Key semantics on every POST: the first request claims the key; a retry with the
 * same body replays the stored response; a different body is 422; a retry while the first still runs is 409.
 * Keys are scoped to the API key. Stored bodies are encrypted, bound to their key, so this table never holds a
 * readable copy of what was sent back.
 *
 * A request that fails (5xx, the database unreachable) or asks to be retried releases its claim, so its
 * retry runs again. When even the release cannot reach the database, this process keeps trying, and releases
 * pending claims before it takes a new one; the claim's short, renewed lease frees it on every other instance.
 */
export default fp<{ ttlHours: number }>(async (app, { ttlHours }) => {
  const sealKey = app.subkey('idempotency')
  app.decorateRequest('idempotency', null)
  app.decorateRequest('retryable', false)

  const aad = (c: Claim): string => `${c.caller.cityId}\n${c.caller.keyId}\n${c.key}`
  const where = (c: Claim) => and(eq(idempotencyKeys.cityId, c.caller.cityId), eq(idempotencyKeys.apiKeyId, c.caller.keyId), eq(idempotencyKeys.key, c.key))

  /** Claims of requests of this process still running, renewed together. */
  const running = new Set<Claim>()
  /** Claims whose release failed; released as soon as the database answers again. */
  const unreleased = new Set<Claim>()

  /** Frees a claim whose request ended without an answer to keep. A stored answer is never removed. */
  async function release (claim: Claim): Promise<void> {
    await app.db.delete(idempotencyKeys).where(and(where(claim), isNull(idempotencyKeys.responseStatus)))
    unreleased.delete(claim)
  }

  async function releasePending (): Promise<void> {
    for (const claim of unreleased) await release(claim)
  }

  async function renew (): Promise<void> {
    const claims = [...running]
    if (claims.length === 0) return
    const column = (value: (c: Claim) => string) => sql.param(claims.map(value))
    await app.db.execute(sql`UPDATE idempotency_keys i SET locked_until = now() + make_interval(secs => ${LEASE_SECONDS})
      FROM unnest(${column((c) => c.caller.cityId)}::uuid[], ${column((c) => c.caller.keyId)}::uuid[], ${column((c) => c.key)}::text[]) AS r(city_id, api_key_id, key)
      WHERE i.city_id = r.city_id AND i.api_key_id = r.api_key_id AND i.key = r.key AND i.response_status IS NULL`)
  }

  app.decorateReply('answerWithin', async function (this: FastifyReply, tx: Executor, body: unknown): Promise<string> {
    const payload = this.serialize(body) as string
    this.type(JSON_TYPE)
    const claim = this.request.idempotency
    if (claim !== null && claim !== undefined && !this.request.retryable) {
      await tx.update(idempotencyKeys).set(storedAnswer(this, payload, claim)).where(where(claim))
      claim.answer = payload
    }
    return payload
  })

  function storedAnswer (reply: FastifyReply, payload: string | Buffer, claim: Claim) {
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name)
      if (value !== undefined) headers[name] = String(value)
    }
    return { responseStatus: reply.statusCode, responseHeaders: headers, responseBody: seal(sealKey, Buffer.from(payload), aad(claim)), lockedUntil: null }
  }

  async function claimOrReplay (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.caller) return
    const header = request.headers['idempotency-key']
    if (header === undefined) return
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw new ProblemError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters.', { errors: [{ path: '/headers/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }] })
    }
    if (unreleased.size > 0) await releasePending()
    const fingerprint = fingerprintOf(request)
    // On a key that many people share, a client's Idempotency-Key only picks which replay it gets: the key is
    // spaced by what was sent, so one resident's key with another body is a request of its own, never a 422
    // or a 409 telling that someone else used it, and a replay needs the very body it repeats.
    const key = isSharedKey(request.caller.scopes) ? `shared:${sha256Hex(`${header}\n${fingerprint}`)}` : header
    const claim: Claim = { caller: request.caller, key, answer: null }
    const claimed = await query<{ key: string }>(app.db, sql`
      INSERT INTO idempotency_keys (city_id, api_key_id, key, fingerprint, locked_until, expires_at)
      VALUES (${claim.caller.cityId}, ${claim.caller.keyId}, ${claim.key}, ${fingerprint},
              now() + make_interval(secs => ${LEASE_SECONDS}), now() + make_interval(hours => ${ttlHours}))
      ON CONFLICT (city_id, api_key_id, key) DO UPDATE SET
        fingerprint = EXCLUDED.fingerprint, locked_until = EXCLUDED.locked_until, response_status = NULL,
        response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE idempotency_keys.expires_at < now()
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.locked_until < now()
             AND idempotency_keys.fingerprint = EXCLUDED.fingerprint)
      RETURNING key`)
    if (claimed.length === 1) {
      request.idempotency = claim
      running.add(claim)
      return
    }
    const [existing] = await app.db.select().from(idempotencyKeys).where(where(claim)).limit(1)
    if (existing === undefined) throw new ProblemError('idempotency_in_flight', 'Retry the request.', { headers: { 'retry-after': '1' } })
    if (existing.fingerprint !== fingerprint) {
      throw new ProblemError('idempotency_key_reused', 'This Idempotency-Key was first used with a different request body or operation.')
    }
    if (existing.responseStatus === null || existing.responseBody === null) {
      throw new ProblemError('idempotency_in_flight', 'The first request with this Idempotency-Key has not finished; retry shortly.', { headers: { 'retry-after': '1' } })
    }
    const body = open(sealKey, existing.responseBody, aad(claim))
    reply.code(existing.responseStatus).headers(existing.responseHeaders ?? {}).header('idempotent-replayed', 'true')
    return await reply.send(body)
  }

  async function keepOrRelease (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const claim = request.idempotency
    if (claim === null) return payload
    request.idempotency = null
    running.delete(claim)
    // The answer stored with the write is the one being sent: the write committed, and its replay with it.
    if (claim.answer !== null && payload === claim.answer) return payload
    // Otherwise any answer stored in a transaction may or may not have committed: what is stored stays, and
    // this answer is only kept, or the claim only released, where nothing is stored yet.
    if (reply.statusCode >= 500 || request.retryable || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) {
      // Nothing was decided, or the client is asked to send it again: a retry must run the request again.
      await release(claim).catch((err: unknown) => {
        unreleased.add(claim)
        request.log.warn({ err }, 'could not release an idempotency key yet; retrying')
      })
      return payload
    }
    // The answer is only sent once its replay is stored: a client told "done" can always retry safely.
    await app.db.update(idempotencyKeys).set(storedAnswer(reply, payload, claim)).where(and(where(claim), isNull(idempotencyKeys.responseStatus)))
    return payload
  }

  // Only POST routes carry the hooks: no other request pays for them.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (!methods.includes('POST')) return
    addRouteHook(route, 'preHandler', claimOrReplay)
    addRouteHook(route, 'onSend', keepOrRelease)
  })

  const renewal = setInterval(() => {
    renew().catch((err: unknown) => app.log.warn({ err }, 'could not renew idempotency claims'))
    if (unreleased.size > 0) releasePending().catch(() => { /* the database is still away; tried again next time */ })
  }, RENEW_EVERY_MS)
  renewal.unref()
  const cleanup = setInterval(() => {
    app.db.delete(idempotencyKeys).where(sql`${idempotencyKeys.expiresAt} < now()`)
      .catch((err: unknown) => app.log.warn({ err }, 'idempotency cleanup failed'))
  }, CLEANUP_EVERY_MS)
  cleanup.unref()
  app.addHook('onClose', async () => { clearInterval(renewal); clearInterval(cleanup) })
}, { name: 'idempotency', dependencies: ['db', 'auth', 'keys'] })

/** The same operation with the same body has the same fingerprint. */
function fingerprintOf (request: FastifyRequest): string {
  const body = typeof request.body === 'string' || Buffer.isBuffer(request.body) ? request.body.toString() : JSON.stringify(request.body ?? null)
  return sha256Hex(`${request.method} ${request.routeOptions.url ?? request.url}\n${request.url}\n${body}`)
}

/** The Idempotency-Key header as it appears in the spec of every POST. */
export const IdempotencyKeyHeader = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  description: 'Makes the POST safe to retry: a retry with the same key and body replays the first response (marked `Idempotent-Replayed: true`); the same key with another body is 422; while the first request runs, 409. Keys are kept 24 hours and scoped to the API key; on a submit-only key that many people share, to the key and the body, so a client never learns of another\'s request. A request that failed (5xx) or was refused as "send it again" keeps no answer: its retry runs again.'
}
