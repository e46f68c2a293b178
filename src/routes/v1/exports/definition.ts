import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TableSchema } from '../../../lib/streaming.js'

/**
 * One export under /v1/exports: its name (the path segment), the Table Schema of its columns, published at
 * GET /v1/exports/{name}/schema, and the plugin that registers its route(s). A new export is a file in this
 * folder exporting one of these as default, and one line in index.ts.
 */
export interface ExportModule {
  name: string
  tableSchema: TableSchema
  routes: FastifyPluginAsyncTypebox
}
