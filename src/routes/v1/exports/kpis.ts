import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { AUTHENTICATED, problemResponses } from '../../../lib/schemas.js'
import { exportFormat, exportResponse, FormatQuery, beginExport, pagesOf, streamExport, tableSchema, type ExportColumn, type ExportFormat } from '../../../lib/streaming.js'
import { callerOf } from '../../../plugins/auth.js'
import { computeSeries, lengthFor, rangeOf, type SeriesRange } from '../kpis/compute.js'
import { isFiner, type PeriodLength } from '../kpis/periods.js'
import { allKpis, type KpiRow } from '../kpis/repo.js'
import { PeriodText } from '../kpis/schema.js'
import type { SeriesPoint } from '../kpis/series.js'
import { KPI_PERIODS, KPI_UNITS } from '../../../db/schema/index.js'
import type { ExportModule } from './definition.js'

const NAME = 'kpis'
const FORMATS: readonly ExportFormat[] = ['csv', 'ndjson', 'json']

/** One KPI's value for one period; `position` orders the rows and is never sent. */
interface KpiRecord extends SeriesPoint {
  position: number
  kpi_code: string
  unit: string
  baseline: number | null
}

const COLUMNS: Array<ExportColumn<KpiRecord>> = [
  { name: 'kpi_code', type: 'string', required: true, description: 'The KPI\'s code, unique in the city.', value: (r) => r.kpi_code },
  { name: 'period', type: 'string', required: true, description: 'The period: `2026-03`, `2026-Q1` or `2026`.', value: (r) => r.period },
  { name: 'period_start', type: 'date', required: true, description: 'Its first day.', value: (r) => r.period_start },
  { name: 'period_end', type: 'date', required: true, description: 'Its last day.', value: (r) => r.period_end },
  { name: 'value', type: 'number', description: 'The value; missing when suppressed or not available.', value: (r) => r.value },
  { name: 'numerator', type: 'number', description: 'What the value rests on, where it applies; missing when suppressed.', value: (r) => r.numerator },
  { name: 'denominator', type: 'number', description: 'The denominator of a rate, share or mean; missing when suppressed or none.', value: (r) => r.denominator },
  { name: 'target', type: 'number', description: 'The KPI\'s target for this period, if any.', value: (r) => r.target },
  { name: 'baseline', type: 'number', description: 'The KPI\'s baseline value, if any.', value: (r) => r.baseline },
  { name: 'unit', type: 'string', required: true, enum: KPI_UNITS, description: 'The unit of value, target and baseline.', value: (r) => r.unit },
  { name: 'status', type: 'string', enum: ['on_track', 'off_track', 'no_target'], description: 'Against the target; missing when the value is.', value: (r) => r.status },
  { name: 'suppressed', type: 'boolean', required: true, description: 'True when the value rests on a count below the city\'s small-cell threshold (or would give one back): value, numerator, denominator and status are withheld.', value: (r) => r.suppressed }
]

const KpiExportQuery = Type.Object({
  from: Type.Optional(PeriodText({ description: 'The first period (any length); default eleven periods before `to`.' })),
  to: Type.Optional(PeriodText({ description: 'The last period; default the current one.' })),
  period: Type.Optional(Type.Enum(KPI_PERIODS, { description: 'Read every KPI by this period; KPIs that cannot be (tracked by a coarser period, or manual ones by another) are left out. Default each KPI\'s own.' })),
  format: FormatQuery(FORMATS)
}, { additionalProperties: false })

/** The KPIs the export can read by `period`, each with its range. */
function plan (kpis: KpiRow[], period: PeriodLength | undefined, q: { from?: string | undefined, to?: string | undefined }, timezone: string): Array<{ kpi: KpiRow, range: SeriesRange }> {
  const out: Array<{ kpi: KpiRow, range: SeriesRange }> = []
  for (const kpi of kpis) {
    if (period !== undefined && (isFiner(period, kpi.period as PeriodLength) || (kpi.method === 'manual' && period !== kpi.period))) continue
    out.push({ kpi, range: rangeOf(lengthFor(kpi, period, '/query/period'), q, timezone) })
  }
  return out
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(`/${NAME}`, {
    schema: {
      operationId: 'exportKpis',
      tags: ['exports'],
      summary: 'Export every KPI\'s values by period, in long format (CSV, NDJSON or JSON)',
      description: 'One row per KPI and period: kpi_code, period, period_start, period_end, value, numerator, denominator, target, baseline, ' +
        'unit, status, suppressed. Values are those of GET /v1/kpis/{id}/series, suppressed the same way; all KPIs are computed in one SQL ' +
        'statement. Columns: GET /v1/exports/kpis/schema.',
      security: [{ bearer: ['exports:read'] }],
      querystring: KpiExportQuery,
      response: { 200: exportResponse(FORMATS, 'The values, one per KPI and period.'), ...problemResponses(...AUTHENTICATED, 422, 503) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { from, to, period } = request.query
    const format = exportFormat(request, FORMATS, request.query.format)
    const kpis = await allKpis(app.db, caller.cityId)
    const items = plan(kpis, period, { from, to }, caller.city.timezone)
    const { release, slug, prepared: rows } = await beginExport(app, request, async () => {
      const series = await computeSeries(app.db, caller.cityId, caller.city.smallCellThreshold, items)
      const records: KpiRecord[] = items.flatMap(({ kpi }) => (series.get(kpi.id) ?? []).map((point) => ({
        ...point, position: 0, kpi_code: kpi.code, unit: kpi.unit, baseline: kpi.baselineValue === null ? null : Number(kpi.baselineValue)
      })))
      records.forEach((row, i) => { row.position = i })
      return records
    }, () => ({
      action: 'export.kpis', objectType: 'export', objectId: NAME, details: { format, from: from ?? null, to: to ?? null, period: period ?? null, kpis: items.length }
    }))
    const first = items[0]?.range.periods[0]?.start
    const last = items[0]?.range.periods.at(-1)?.end
    return streamExport(app, reply, {
      release,
      format,
      fileName: [slug, NAME, from ?? first, to ?? last],
      columns: COLUMNS,
      // The values are computed in one statement above; the pages only cut them into chunks.
      readPage: pagesOf(rows)
    })
  })
}

const kpisExport: ExportModule = { name: NAME, tableSchema: tableSchema(COLUMNS, { primaryKey: ['kpi_code', 'period'] }), routes }
export default kpisExport
