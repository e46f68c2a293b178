import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { pageOf, uuidPosition } from '../../../lib/pagination.js'
import { notFound } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, Page, problemResponses, ref } from '../../../lib/schemas.js'
import { callerOf } from '../../../plugins/auth.js'
import { getAuditEvent, listAuditEvents, toAuditEvent } from './repo.js'
import { AuditEventListQuery, AuditEventSchema } from './schema.js'

const LIST = 'audit-events'

/** What a key limited to reporting sources sees of the trail (repo.ts visibleTo), said in both operations. */
const SOURCES_RULE = 'A key limited to reporting sources (a partner\'s administrator) sees only its part of the trail: events about ' +
  'incidents of its sources, whoever acted (the city\'s case work and personal-data reads included); events about API keys limited ' +
  'to some of its sources; and any other event (stakeholders, surveys, KPIs, plans, exports, the city) only when one of those keys ' +
  'acted. What the city\'s own keys, the operator and other partners did elsewhere is hidden, and so is everything about another ' +
  'source\'s incidents and keys. A hidden event is as if it did not exist: filters and cursors never count it, and reading it answers 404.'

const auditEventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(AuditEventSchema)
  const AuditEventRef = ref(AuditEventSchema)

  app.get('', {
    schema: {
      operationId: 'listAuditEvents',
      tags: ['audit-events'],
      summary: 'List audit events',
      description: `Newest first; filter by object, action, actor or time. The trail is append-only. ${SOURCES_RULE}`,
      security: [{ bearer: ['admin'] }],
      querystring: AuditEventListQuery,
      response: { 200: Page(AuditEventRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId, sources } = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    const before = cursor !== undefined ? uuidPosition(app.cursors.decode(cityId, LIST, cursor)) : undefined
    const rows = await listAuditEvents(app.db, cityId, sources, { ...filter, limit, ...(before ? { before } : {}) })
    const page = pageOf(rows, limit, (row) => [row.id], (position) => app.cursors.encode(cityId, LIST, position))
    return { data: page.data.map(toAuditEvent), next_cursor: page.next_cursor }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getAuditEvent',
      tags: ['audit-events'],
      summary: 'Read an audit event',
      description: `One entry of the trail; another city's event answers 404, and so does an event hidden from a key limited to reporting sources. ${SOURCES_RULE}`,
      security: [{ bearer: ['admin'] }],
      params: IdParams,
      response: { 200: AuditEventRef, ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const { cityId, sources } = callerOf(request)
    const row = await getAuditEvent(app.db, cityId, sources, request.params.id)
    if (row === undefined) throw notFound('audit event')
    return toAuditEvent(row)
  })
}

export default auditEventsRoutes
