import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { BATCH_BODY_LIMIT } from '../../../lib/import-routes.js'
import { PersonalData } from '../../../lib/personal-data.js'
import { AUTHENTICATED, problemResponses, ref } from '../../../lib/schemas.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { createReport, incidentImports } from './imports.js'
import { toReceipt } from './present.js'
import type { PersonalData as Personal } from './rules.js'
import { IncidentReceiptSchema, IncidentReportSchema } from './schema.js'

/**
 * Reports from a resident-facing form, whose key every resident shares (incidents:report): each report is a
 * new incident, checked and sealed like any other, and answered with a receipt. Nothing is found, merged or
 * compared, and nothing stored is read back, so one resident learns nothing of another's report.
 */
const incidentReportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(IncidentReportSchema)
  app.addSchema(IncidentReceiptSchema)
  const imports = incidentImports(new PersonalData<Personal>(app.subkey('personal-data'), 'incident', 'incidents:read_personal'))

  app.post('', {
    bodyLimit: BATCH_BODY_LIMIT,
    schema: {
      operationId: 'submitIncidentReport',
      tags: ['incidents'],
      summary: 'Submit a resident\'s report of a bias incident or hate crime',
      description: 'For a resident-facing form whose key every resident shares (`incidents:report`). Every report is a new incident: ' +
        'there is no external_id, nothing is updated or compared, and the answer is a receipt (the report\'s id and what happens next), ' +
        'never the report. With a key limited to sources, `source` is one of them. Idempotency-Key on such a key replays only the same ' +
        'body, and the answers carry no RateLimit-* figures of the allowance residents share.',
      security: [{ bearer: ['incidents:report'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(IncidentReportSchema),
      response: { 201: ref(IncidentReceiptSchema), ...problemResponses(...AUTHENTICATED, 409, 413, 415) }
    }
  }, async (request, reply) => await createReport(app, request, reply, imports, { present: toReceipt, etag: false }))
}

export default incidentReportsRoutes
