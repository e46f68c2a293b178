import { and, eq, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { query } from '../db/client.js'
import { idempotencyKeys } from '../db/schema/index.js'
import { open, seal, sha256Hex } from '../lib/crypto.js'
import { ProblemError } from '../lib/problems.js'
import type { Caller } from './auth.js'

interface Claim { caller: Caller, key: string }

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: Claim | null
  }
}

/** A request still running after this long is taken to have died, and its key may be claimed again. */
const LOCK_SECONDS = 300
/** Response headers a replay must repeat. */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag']
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
const CLEANUP_EVERY_MS = 15 * 60_000

/**
 * Stripe's Idempotency-Key semantics on every POST: the first request claims the key; a retry with the
 * same body replays the stored response; a different body is 422; a retry while the first still runs is 409.
 * Keys are scoped to the API key. Stored bodies are encrypted, bound to their key, so this table never holds a
 * readable copy of what was sent back.
 */
export default fp<{ ttlHours: number }>(async (app, { ttlHours }) => {
  const sealKey = app.subkey('idempotency')
  app.decorateRequest('idempotency', null)

  const aad = (c: Claim): string => `${c.caller.cityId}\n${c.caller.keyId}\n${c.key}`
  const where = (c: Claim) => and(eq(idempotencyKeys.cityId, c.caller.cityId), eq(idempotencyKeys.apiKeyId, c.caller.keyId), eq(idempotencyKeys.key, c.key))

  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' || !request.caller) return
    const header = request.headers['idempotency-key']
    if (header === undefined) return
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw new ProblemError('validation_failed', 'Idempotency-Key must be 1 to 255 visible ASCII characters.', { errors: [{ path: '/headers/idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }] })
    }
    const claim: Claim = { caller: request.caller, key: header }
    const fingerprint = fingerprintOf(request)
    const claimed = await query<{ key: string }>(app.db, sql`
      INSERT INTO idempotency_keys (city_id, api_key_id, key, fingerprint, locked_until, expires_at)
      VALUES (${claim.caller.cityId}, ${claim.caller.keyId}, ${claim.key}, ${fingerprint},
              now() + make_interval(secs => ${LOCK_SECONDS}), now() + make_interval(hours => ${ttlHours}))
      ON CONFLICT (city_id, api_key_id, key) DO UPDATE SET
        fingerprint = EXCLUDED.fingerprint, locked_until = EXCLUDED.locked_until, response_status = NULL,
        response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE idempotency_keys.expires_at < now()
         OR (idempotency_keys.response_status IS NULL AND idempotency_keys.locked_until < now()
             AND idempotency_keys.fingerprint = EXCLUDED.fingerprint)
      RETURNING key`)
    if (claimed.length === 1) {
      request.idempotency = claim
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
    return reply.send(body)
  })

  app.addHook('onSend', async (request, reply, payload) => {
    // Routes of contexts made before this plugin (the docs UI) lack the decoration: undefined, not null.
    const claim = request.idempotency
    if (claim === null || claim === undefined) return payload
    request.idempotency = null
    if (reply.statusCode >= 500 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) {
      // Nothing was decided: release the key so that a retry runs the request again.
      await app.db.delete(idempotencyKeys).where(where(claim)).catch((err: Error) => request.log.warn({ err: { message: err.message } }, 'could not release idempotency key'))
      return payload
    }
    const headers: Record<string, string> = {}
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name)
      if (value !== undefined) headers[name] = String(value)
    }
    // The response is only sent once its replay is stored: a client told "created" can always retry safely.
    await app.db.update(idempotencyKeys).set({
      responseStatus: reply.statusCode,
      responseHeaders: headers,
      responseBody: seal(sealKey, Buffer.from(payload), aad(claim)),
      lockedUntil: null
    }).where(where(claim))
    return payload
  })

  const timer = setInterval(() => {
    app.db.delete(idempotencyKeys).where(sql`${idempotencyKeys.expiresAt} < now()`)
      .catch((err: Error) => app.log.warn({ err: { message: err.message } }, 'idempotency cleanup failed'))
  }, CLEANUP_EVERY_MS)
  timer.unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
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
  description: 'Makes the POST safe to retry: a retry with the same key and body replays the first response (marked `Idempotent-Replayed: true`); the same key with another body is 422; while the first request runs, 409. Keys are kept 24 hours and scoped to the API key.'
}
