import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'drizzle-orm'
import Type from 'typebox'
import { ProblemError } from '../../lib/problems.js'
import { problemResponses } from '../../lib/schemas.js'

const Status = Type.Object({
  status: Type.Literal('ok'),
  database: Type.Optional(Type.Literal('ok'))
}, { additionalProperties: false })

const READY_TIMEOUT_MS = 2000

/** Liveness and readiness, outside /v1 and without a key, for load balancers and orchestrators. */
const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/live', {
    // Never shed under load: an orchestrator would restart a healthy instance that is merely busy.
    config: { rateLimit: false, pressureHandler: () => undefined },
    schema: {
      operationId: 'getLiveness',
      tags: ['health'],
      summary: 'Is the process alive',
      description: 'Answers 200 while the process runs; it does not touch the database. Not rate limited, and not shed under load.',
      security: [],
      response: { 200: Status, ...problemResponses() }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getReadiness',
      tags: ['health'],
      summary: 'Can the service take traffic (its database answers)',
      description: 'Answers 200 when the database answers within 2 seconds, else 503 with Retry-After. Not rate limited.',
      security: [],
      response: { 200: Status, ...problemResponses(503) }
    }
  }, async (request) => {
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        app.db.execute(sql`SELECT 1`),
        new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error('timed out')) }, READY_TIMEOUT_MS) })
      ])
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed')
      throw new ProblemError('service_unavailable', 'The database does not answer.', { headers: { 'retry-after': '5' } })
    } finally {
      clearTimeout(timer)
    }
    return { status: 'ok' as const, database: 'ok' as const }
  })
}

export default health
