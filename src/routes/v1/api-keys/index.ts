import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { actorOf, recordAudit } from '../../../lib/audit.js'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { invalidField, notFound, ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, NoContent, Page, problemResponses, ref } from '../../../lib/schemas.js'
import { grants, sharedKeyProblem } from '../../../lib/scopes.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { createApiKey, getApiKey, listApiKeys, revokeApiKey, rotateApiKey, toApiKey } from './repo.js'
import { ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeyListQuery, ApiKeySchema } from './schema.js'

const LIST = 'api-keys'

const apiKeysRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(ApiKeySchema)
  app.addSchema(ApiKeyCreatedSchema)
  const ApiKeyRef = ref(ApiKeySchema)

  app.post('', {
    schema: {
      operationId: 'createApiKey',
      tags: ['api-keys'],
      summary: 'Create an API key',
      description: 'Creates a key for a portal, partner or analyst. The secret is in this response only. ' +
        'A key can grant only scopes it holds itself (so personal-data scopes need a key that has them), and a ' +
        'key limited to reporting sources can create keys only for those sources. A key with a submit scope (`incidents:report`, ' +
        '`survey-responses:submit`) is shared by the residents who submit through it: it holds submit scopes and `surveys:read` only (400 otherwise).',
      security: [{ bearer: ['admin'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ApiKeyCreateSchema,
      response: { 201: ref(ApiKeyCreatedSchema), ...problemResponses(...AUTHENTICATED, 409, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const body = request.body
    const ungranted = body.scopes.filter((scope) => !grants(caller.scopes, scope))
    if (ungranted.length > 0) throw new ProblemError('forbidden', `A key cannot grant scopes it does not hold: ${ungranted.join(', ')}.`)
    const shared = sharedKeyProblem(body.scopes)
    if (shared !== null) throw invalidField('/body/scopes', shared)
    let sources = body.sources ?? null
    if (caller.sources !== null) {
      sources ??= caller.sources
      const foreign = sources.filter((s) => !caller.sources?.includes(s))
      if (foreign.length > 0) throw new ProblemError('forbidden', `This key is limited to its own reporting sources; it cannot grant ${foreign.join(', ')}.`)
    }
    const expiresAt = body.expires_at !== undefined ? new Date(body.expires_at) : null
    if (expiresAt !== null && expiresAt.getTime() <= Date.now()) throw invalidField('/body/expires_at', 'must be in the future')
    const created = await app.db.transaction(async (tx) => {
      const result = await createApiKey(tx, caller.cityId, { name: body.name, scopes: body.scopes, sources, expiresAt, createdByKeyId: caller.keyId })
      await recordAudit(tx, caller.cityId, actorOf(request), {
        action: 'api_key.created', objectType: 'api_key', objectId: result.row.id, details: { scopes: body.scopes, sources }
      })
      return result
    })
    reply.code(201).header('location', `/v1/api-keys/${created.row.id}`)
    return { ...toApiKey(created.row), key: created.key }
  })

  app.get('', {
    schema: {
      operationId: 'listApiKeys',
      tags: ['api-keys'],
      summary: 'List the city\'s API keys',
      description: 'Newest first. Secrets are never listed. A key limited to reporting sources (a partner\'s administrator) lists, reads, ' +
        'rotates and revokes only keys limited to some of its sources; any other key answers 404 to it, as a missing one.',
      security: [{ bearer: ['admin'] }],
      querystring: ApiKeyListQuery,
      response: { 200: Page(ApiKeyRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId, sources } = callerOf(request)
    const { limit = 50, cursor, state } = request.query
    const before = cursor !== undefined ? uuidPosition(app.cursors.decode(cityId, LIST, cursor)) : undefined
    const rows = await listApiKeys(app.db, cityId, sources, { limit, ...(before ? { before } : {}), ...(state ? { state } : {}) })
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(cityId, LIST, position))
    return { data: page.data.map(toApiKey), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getApiKey',
      tags: ['api-keys'],
      summary: 'Read an API key',
      description: 'Its name, scopes, sources and state; never the secret.',
      security: [{ bearer: ['admin'] }],
      params: IdParams,
      response: { 200: ApiKeyRef, ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const { cityId, sources } = callerOf(request)
    const row = await getApiKey(app.db, cityId, sources, request.params.id)
    if (row === undefined) throw notFound('API key')
    return toApiKey(row)
  })

  app.post('/:id/rotate', {
    schema: {
      operationId: 'rotateApiKey',
      tags: ['api-keys'],
      summary: 'Give an API key a new secret',
      description: 'The same key — id, scopes, sources, and what is bound to it: a partner\'s re-imports stay `unchanged`, its ' +
        'Idempotency-Keys and its audit trail carry over — with a new secret, shown in this response only. The old secret stops working ' +
        'at once on this instance and within `AUTH_CACHE_TTL_MS` on every other. A revoked or expired key answers 404.',
      security: [{ bearer: ['admin'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      params: IdParams,
      response: { 200: ref(ApiKeyCreatedSchema), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const rotated = await app.db.transaction(async (tx) => {
      const result = await rotateApiKey(tx, caller.cityId, caller.sources, request.params.id)
      if (result === undefined) throw notFound('API key')
      await recordAudit(tx, caller.cityId, actorOf(request), { action: 'api_key.rotated', objectType: 'api_key', objectId: result.row.id })
      reply.code(200)
      return { ...result, payload: await reply.answerWithin(tx, { ...toApiKey(result.row), key: result.key }) }
    })
    app.forgetApiKey(rotated.oldSecretHash)
    return await reply.send(rotated.payload as never)
  })

  app.delete('/:id', {
    schema: {
      operationId: 'revokeApiKey',
      tags: ['api-keys'],
      summary: 'Revoke an API key',
      description: 'The key stops working at once on this instance and within `AUTH_CACHE_TTL_MS` on every other. The record stays, for the audit trail.',
      security: [{ bearer: ['admin'] }],
      params: IdParams,
      response: { 204: NoContent('Revoked.'), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const { cityId, sources } = callerOf(request)
    const row = await app.db.transaction(async (tx) => {
      const revoked = await revokeApiKey(tx, cityId, sources, request.params.id)
      if (revoked === undefined) throw notFound('API key')
      await recordAudit(tx, cityId, actorOf(request), { action: 'api_key.revoked', objectType: 'api_key', objectId: revoked.id })
      return revoked
    })
    app.forgetApiKey(row.secretHash)
    return reply.code(204).send(null)
  })
}

export default apiKeysRoutes
