import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { notFound } from '../../../lib/problems.js'
import { AUTHENTICATED, problemResponses } from '../../../lib/schemas.js'
import { TableSchemaResponse } from '../../../lib/streaming.js'
import type { ExportModule } from './definition.js'

/** Every export, one line each: a file of this folder whose default export is an ExportModule. */
const EXPORTS: ExportModule[] = (await Promise.all([
  import('./incidents.js'),
  import('./kpis.js'),
  import('./incident-counts.js')
])).map((module) => module.default)

const byName = new Map(EXPORTS.map((e) => [e.name, e]))

const exportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  for (const definition of EXPORTS) await app.register(definition.routes)

  app.get('/:name/schema', {
    schema: {
      operationId: 'getExportSchema',
      tags: ['exports'],
      summary: 'The Frictionless Table Schema of an export',
      description: `Describes the columns of an export (${EXPORTS.map((e) => e.name).join(', ')}): name, type, meaning, allowed values. An empty CSV cell is a missing value. ` +
        'Any valid key may read it: it describes columns, not data, and a partner holding only `exports:read_records` needs it too.',
      security: [{ bearer: [] }],
      params: Type.Object({ name: Type.String({ pattern: '^[a-z0-9-]{1,64}$', maxLength: 64 }) }, { additionalProperties: false }),
      response: { 200: TableSchemaResponse, ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request) => {
    const definition = byName.get(request.params.name)
    if (definition === undefined) throw notFound('export')
    return definition.tableSchema
  })
}

export default exportsRoutes
