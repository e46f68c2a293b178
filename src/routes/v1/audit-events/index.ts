import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { notFound } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, Page, problemResponses, ref } from '../../../lib/schemas.js'
import { callerOf } from '../../../plugins/auth.js'
import { getAuditEvent, listAuditEvents, toAuditEvent } from './repo.js'
import { AuditEventListQuery, AuditEventSchema } from './schema.js'

const LIST = 'audit-events'

const auditEventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(AuditEventSchema)
  const AuditEventRef = ref(AuditEventSchema)

  app.get('', {
    schema: {
      operationId: 'listAuditEvents',
      tags: ['audit-events'],
      summary: 'List audit events',
      description: 'Newest first; filter by object, action, actor or time. The trail is append-only.',
      security: [{ bearer: ['admin'] }],
      querystring: AuditEventListQuery,
      response: { 200: Page(AuditEventRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId } = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const before = cursor !== undefined ? uuidPosition(app.cursors.decode(cityId, LIST, cursor)) : undefined
    const rows = await listAuditEvents(app.db, cityId, { ...filter, limit, ...(before ? { before } : {}) })
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(cityId, LIST, position))
    return { data: page.data.map(toAuditEvent), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getAuditEvent',
      tags: ['audit-events'],
      summary: 'Read an audit event',
      description: 'One entry of the trail; another city\'s event answers 404.',
      security: [{ bearer: ['admin'] }],
      params: IdParams,
      response: { 200: AuditEventRef, ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const row = await getAuditEvent(app.db, callerOf(request).cityId, request.params.id)
    if (row === undefined) throw notFound('audit event')
    return toAuditEvent(row)
  })
}

export default auditEventsRoutes
