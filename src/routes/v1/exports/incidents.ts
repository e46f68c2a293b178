import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql, type SQL } from 'drizzle-orm'
import Type from 'typebox'
import { today } from '../../../lib/dates.js'
import { invalidField } from '../../../lib/problems.js'
import { AUTHENTICATED, DateOnly, problemResponses } from '../../../lib/schemas.js'
import { exportFormat, exportResponse, FormatQuery, beginExport, streamExport, tableSchema, type ExportColumn, type ExportFormat, type ExportQuery } from '../../../lib/streaming.js'
import { callerOf } from '../../../plugins/auth.js'
import { BIAS_CATEGORIES, LOCATION_CODES } from '../../../taxonomies/index.js'
import { INCIDENT_TYPES, STATUSES, VICTIM_TYPES } from '../incidents/schema.js'
import type { ExportModule } from './definition.js'

const NAME = 'incidents'
const FORMATS: readonly ExportFormat[] = ['csv', 'ndjson']

/**
 * A de-identified incident as read from incident_statistics; `id` orders the pages and is never sent. Lists
 * arrive joined with ';' and the flag as text (lib/streaming.ts types them for NDJSON).
 */
interface IncidentRecord {
  id: string
  occurred_on: string
  incident_type: string
  bias_motivations: string
  bias_categories: string
  offense_types: string
  status: string
  resolution: string | null
  location_type: string | null
  neighborhood: string | null
  census_tract: string | null
  is_online: string
  platform: string | null
  victim_count: number | string | null
  victim_type: string | null
  source: string
}

/**
 * The columns of the incidents export. De-identified: no personal field (narrative, reporter, address, exact
 * coordinates), no free text (summary), no coordinates at all (not even the coarse ones: a point, however
 * rounded, can single out a household on a quiet street), and no id or external id that would lead back to the
 * case record. Location is the neighbourhood and the census tract only.
 */
const COLUMNS: Array<ExportColumn<IncidentRecord>> = [
  { name: 'occurred_on', type: 'date', required: true, description: 'The day it happened, in the city\'s timezone.', value: (r) => r.occurred_on },
  { name: 'incident_type', type: 'string', required: true, enum: INCIDENT_TYPES, description: 'hate_crime, bias_incident or undetermined.', value: (r) => r.incident_type },
  { name: 'bias_motivations', type: 'list', required: true, description: 'NIBRS 8A bias motivation codes (GET /v1/taxonomies/bias-motivations).', value: (r) => r.bias_motivations },
  { name: 'bias_categories', type: 'list', required: true, description: `Bias categories of those codes: ${BIAS_CATEGORIES.join(', ')}.`, value: (r) => r.bias_categories },
  { name: 'offense_types', type: 'list', description: 'NIBRS offense codes (GET /v1/taxonomies/offense-types); empty when none.', value: (r) => r.offense_types },
  { name: 'status', type: 'string', required: true, enum: STATUSES, description: 'Where the case stands.', value: (r) => r.status },
  { name: 'resolution', type: 'string', enum: ['verified'], description: 'How review ended. Unfounded reports and duplicates are not in the export.', value: (r) => r.resolution },
  { name: 'location_type', type: 'string', enum: LOCATION_CODES, description: 'NIBRS location type; 58 is cyberspace.', value: (r) => r.location_type },
  { name: 'neighborhood', type: 'string', description: 'The neighbourhood, as the city names it.', value: (r) => r.neighborhood },
  { name: 'census_tract', type: 'string', description: 'Census tract number or 11-digit GEOID.', value: (r) => r.census_tract },
  { name: 'is_online', type: 'boolean', required: true, description: 'Whether it happened online.', value: (r) => r.is_online },
  { name: 'platform', type: 'string', description: 'The online platform, when online.', value: (r) => r.platform },
  { name: 'victim_count', type: 'integer', description: 'How many victims.', value: (r) => r.victim_count },
  { name: 'victim_type', type: 'string', enum: VICTIM_TYPES, description: 'individual, business, religious_organization, government, society or other.', value: (r) => r.victim_type },
  { name: 'source', type: 'string', required: true, description: 'The reporting channel or partner.', value: (r) => r.source }
]

export interface IncidentExportFilter {
  cityId: string
  /** The reporting sources the caller's key is limited to; null when it is not. */
  sources: string[] | null
  from?: string | undefined
  to?: string | undefined
  status?: string | undefined
}

/**
 * The condition of a key's sources, each one a text parameter: a CSV export is written by COPY, which takes no
 * parameters, so its values are written into the statement as literals (sources are slugs: no backslash, which
 * copyStatement refuses). A key limited to no source at all exports no row.
 */
function sourceCondition (sources: string[]): SQL {
  if (sources.length === 0) return sql`false`
  return sql`s.source IN (${sql.join(sources.map((source) => sql`${source}`), sql`, `)})`
}

/**
 * The export's rows, newest first, after a row when given: the order walks the index on (city, occurred_on
 * desc, id desc), or the one on (city, status, occurred_on desc, id desc) with a status, so a page starts where
 * the last one ended at any depth. incident_statistics already leaves out the reports whose reporters opted out
 * of statistics, duplicates and unfounded reports. A key limited to reporting sources gets their rows only, in
 * every format: the condition is in the query itself, which COPY, the cursor and the keyset pages all run.
 */
export function incidentRecords (filter: IncidentExportFilter): ExportQuery<IncidentRecord> {
  const conditions: SQL[] = [sql`s.city_id = ${filter.cityId}`]
  if (Array.isArray(filter.sources)) conditions.push(sourceCondition(filter.sources))
  if (filter.from !== undefined) conditions.push(sql`s.occurred_on >= ${filter.from}::date`)
  if (filter.to !== undefined) conditions.push(sql`s.occurred_on <= ${filter.to}::date`)
  if (filter.status !== undefined) conditions.push(sql`s.status = ${filter.status}`)
  return (after) => {
    const where = after === undefined ? conditions : [...conditions, sql`(s.occurred_on, s.id) < (${after.occurred_on}::date, ${after.id}::uuid)`]
    // Columns are named with the view's alias: the output column occurred_on is text, and ordering by it would
    // sort every row of the city instead of walking the index.
    return sql`SELECT s.id, s.occurred_on::text AS occurred_on, s.incident_type, array_to_string(s.bias_motivations, ';') AS bias_motivations,
        array_to_string(s.bias_categories, ';') AS bias_categories, array_to_string(s.offense_types, ';') AS offense_types, s.status,
        s.resolution, s.location_type, s.neighborhood, s.census_tract, s.is_online::text AS is_online, s.platform, s.victim_count,
        s.victim_type, s.source
      FROM incident_statistics s WHERE ${sql.join(where, sql` AND `)}
      ORDER BY s.occurred_on DESC, s.id DESC`
  }
}

const IncidentExportQuery = Type.Object({
  from: Type.Optional(DateOnly({ description: 'Inclusive: incidents that occurred on or after this day.' })),
  to: Type.Optional(DateOnly({ description: 'Inclusive: incidents that occurred on or before this day.' })),
  status: Type.Optional(Type.Enum(STATUSES, { description: 'Only incidents in this status.' })),
  format: FormatQuery(FORMATS)
}, { additionalProperties: false })

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(`/${NAME}`, {
    schema: {
      operationId: 'exportIncidents',
      tags: ['exports'],
      summary: 'Export de-identified incident records (CSV or NDJSON)',
      description: 'One row per incident, newest first, streamed: no personal field, no free text, no coordinates (location is the ' +
        'neighbourhood and census tract), and without the reports whose reporters opted out of statistics, duplicates and unfounded ' +
        'reports. Needs `exports:read_records`, which `exports:read` does not grant: whoever holds the rows can recount any suppressed ' +
        'cell of the published counts. A key limited to reporting sources exports only the incidents of those sources, in every ' +
        'format and whatever the filter: the file is the one it would get if no other source had ever reported. ' +
        'Every export is recorded in the audit trail. Columns: GET /v1/exports/incidents/schema. ' +
        'Answers 503 with Retry-After when the server already runs as many exports as it allows.',
      security: [{ bearer: ['exports:read_records'] }],
      querystring: IncidentExportQuery,
      response: { 200: exportResponse(FORMATS, 'The incidents, one per row.'), ...problemResponses(...AUTHENTICATED, 503) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { from, to, status } = request.query
    if (from !== undefined && to !== undefined && from > to) throw invalidField('/query/to', 'must not be before from')
    const format = exportFormat(request, FORMATS, request.query.format)
    const { release, slug } = await beginExport(app, request, async () => {}, () => ({
      action: 'export.incidents',
      objectType: 'export',
      objectId: NAME,
      details: { format, from: from ?? null, to: to ?? null, status: status ?? null }
    }))
    return streamExport(app, reply, {
      release,
      format,
      fileName: [slug, NAME, from ?? 'start', to ?? today(caller.city.timezone)],
      columns: COLUMNS,
      select: incidentRecords({ cityId: caller.cityId, sources: caller.sources, from, to, status }),
      asSelected: true
    })
  })
}

const incidentsExport: ExportModule = { name: NAME, tableSchema: tableSchema(COLUMNS), routes }
export default incidentsExport
