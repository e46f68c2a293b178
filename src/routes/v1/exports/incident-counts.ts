import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'drizzle-orm'
import Type from 'typebox'
import { query, type Executor } from '../../../db/client.js'
import { today } from '../../../lib/dates.js'
import { ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, problemResponses } from '../../../lib/schemas.js'
import { exportFormat, exportResponse, FormatQuery, beginExport, pagesOf, streamExport, tableSchema, type ExportColumn, type ExportFormat } from '../../../lib/streaming.js'
import { cellKey, crossTable, suppress, SuppressionTableTooLarge, type Level } from '../../../lib/suppression.js'
import { callerOf } from '../../../plugins/auth.js'
import { parsePeriod, periodOf, periodsBetween, type Period } from '../kpis/periods.js'
import type { ExportModule } from './definition.js'

const NAME = 'incident-counts'
const FORMATS: readonly ExportFormat[] = ['csv', 'ndjson', 'json']
export const GROUP_BY = ['month', 'bias_category', 'neighborhood'] as const
type Dimension = typeof GROUP_BY[number]

/** The level of incidents with no neighbourhood or no bias category; a control character keeps it apart from real names. */
const NOT_RECORDED = '\u0000'
/** How a level of no neighbourhood or category is written in the export. */
export const NOT_RECORDED_LABEL = '(not recorded)'

interface CountRecord {
  position: number
  period_start: string
  period_end: string
  bias_category: string | null
  neighborhood: string | null
  count: number | null
  suppressed: boolean
}

const COLUMNS: Array<ExportColumn<CountRecord>> = [
  { name: 'period_start', type: 'date', required: true, description: 'The first day of the month (grouped by month) or of the year.', value: (r) => r.period_start },
  { name: 'period_end', type: 'date', required: true, description: 'The last day of that month or year.', value: (r) => r.period_end },
  { name: 'bias_category', type: 'string', description: `The bias category, when grouped by it (missing: all categories; "${NOT_RECORDED_LABEL}": incidents with none). An incident with two categories counts in both.`, value: (r) => r.bias_category },
  { name: 'neighborhood', type: 'string', description: `The neighbourhood, when grouped by it (missing: all neighbourhoods; "${NOT_RECORDED_LABEL}": incidents with none).`, value: (r) => r.neighborhood },
  { name: 'count', type: 'integer', description: 'Incidents that occurred then and there; missing when suppressed.', value: (r) => r.count },
  { name: 'suppressed', type: 'boolean', required: true, description: 'True when the count is below the city\'s small-cell threshold, or would give such a count back.', value: (r) => r.suppressed }
]

const CountsQuery = Type.Object({
  from: Type.Optional(Type.String({ pattern: '^[0-9]{4}(-(0[1-9]|1[0-2]))?$', maxLength: 7, description: 'The first month (`2025-04`) or year (`2025`); default January of last year.' })),
  to: Type.Optional(Type.String({ pattern: '^[0-9]{4}(-(0[1-9]|1[0-2]))?$', maxLength: 7, description: 'The last month or year; default the current month.' })),
  group_by: Type.Optional(Type.String({
    pattern: '^(month|bias_category|neighborhood)(,(month|bias_category|neighborhood)){0,2}$',
    maxLength: 40,
    description: 'Comma-separated: any of month, bias_category, neighborhood. Default month. Without month, each row is a calendar year and the range must be whole years.'
  })),
  format: FormatQuery(FORMATS)
}, { additionalProperties: false })

const unprocessable = (path: string, message: string): ProblemError => new ProblemError('unprocessable', `${path} ${message}`, { errors: [{ path, message }] })

interface Counts {
  /** Incidents per month, category and neighbourhood (an incident counts in each of its categories). */
  inner: Array<{ month: string, category: string, neighborhood: string, count: number }>
  /** Distinct incidents per month and neighbourhood (categories are not additive). */
  margins: Array<{ month: string, neighborhood: string, count: number }>
}

/** The full cut of the years from `from` to `to`, in two statements over the same rows. */
async function readCounts (db: Executor, cityId: string, from: string, to: string): Promise<Counts> {
  const where = sql`i.city_id = ${cityId}::uuid AND i.occurred_on BETWEEN ${from}::date AND ${to}::date`
  const month = sql`to_char(i.occurred_on, 'YYYY-MM')`
  const inner = await query<{ month: string, category: string | null, neighborhood: string | null, count: number }>(db, sql`
    SELECT ${month} AS month, c.category, i.neighborhood, count(*)::int AS count
    FROM incident_statistics i
    CROSS JOIN LATERAL unnest(CASE WHEN cardinality(i.bias_categories) = 0 THEN ARRAY[NULL]::text[] ELSE i.bias_categories END) AS c(category)
    WHERE ${where}
    GROUP BY 1, 2, 3`)
  // Distinct incidents per month and neighbourhood: bias categories do not add up, so their margins are counted.
  const margins = await query<{ month: string, neighborhood: string | null, count: number }>(db, sql`
    SELECT ${month} AS month, i.neighborhood, count(*)::int AS count FROM incident_statistics i WHERE ${where} GROUP BY 1, 2`)
  const level = (value: string | null): string => value ?? NOT_RECORDED
  return {
    inner: inner.map((r) => ({ month: r.month, category: level(r.category), neighborhood: level(r.neighborhood), count: r.count })),
    margins: margins.map((r) => ({ month: r.month, neighborhood: level(r.neighborhood), count: r.count }))
  }
}

/**
 * One year's full cut, month × bias category × neighbourhood with every margin, suppressed at once with
 * lib/suppression.ts. Every answer, whatever it groups by and whatever months of the year it covers, is read
 * from this one suppression, so two answers grouped differently never show a margin one of them hides. Bias
 * categories are not additive (an incident may carry two): their margins are the distinct incidents.
 */
function suppressYear (year: string, counts: Counts, threshold: number): (levels: Level[]) => { count: number | null, suppressed: boolean } {
  const inner = counts.inner.filter((r) => r.month.startsWith(year))
  const months = periodsBetween('month', `${year}-01-01`, `${year}-12-31`).map((p) => p.label)
  const categories = [...new Set(inner.map((r) => r.category))].sort()
  const places = [...new Set(inner.map((r) => r.neighborhood))].sort()
  if (categories.length === 0) categories.push(NOT_RECORDED)
  if (places.length === 0) places.push(NOT_RECORDED)
  // The year's margins over months come from the rows of its months only.
  const byYear = counts.margins.filter((r) => r.month.startsWith(year))
  // Every month and neighbourhood needs its count of distinct incidents, zero included: it cannot be summed.
  const distinct = new Map(byYear.map((r) => [`${r.month}|${r.neighborhood}`, r.count]))
  const margins: Array<{ levels: Level[], count: number }> = months.flatMap((m) => places.map((n) => ({ levels: [m, null, n], count: distinct.get(`${m}|${n}`) ?? 0 })))
  const sum = (rows: typeof byYear, key: (r: typeof byYear[number]) => string): Map<string, number> => {
    const out = new Map<string, number>()
    for (const r of rows) out.set(key(r), (out.get(key(r)) ?? 0) + r.count)
    return out
  }
  for (const [m, count] of sum(byYear, (r) => r.month)) margins.push({ levels: [m, null, null], count })
  for (const [n, count] of sum(byYear, (r) => r.neighborhood)) margins.push({ levels: [null, null, n], count })
  margins.push({ levels: [null, null, null], count: byYear.reduce((total, r) => total + r.count, 0) })
  const result = suppress(crossTable({
    dimensions: [
      { name: 'month', levels: months },
      { name: 'bias_category', levels: categories, additive: false },
      { name: 'neighborhood', levels: places }
    ],
    cells: inner.map((r) => ({ levels: [r.month, r.category, r.neighborhood], count: r.count })),
    margins
  }), { threshold })
  return (levels) => {
    const cell = result.cells.get(cellKey(levels))
    return cell === undefined ? { count: 0, suppressed: false } : { count: cell.count, suppressed: cell.suppressed }
  }
}

const shown = (level: string | null): string | null => level === NOT_RECORDED ? NOT_RECORDED_LABEL : level

/** The rows of one year for the dimensions asked, every combination listed, hidden ones with count null. */
function rowsOf (periods: Period[], groupBy: ReadonlySet<Dimension>, counts: Counts, threshold: number): CountRecord[] {
  const rows: CountRecord[] = []
  const years = [...new Set(periods.map((p) => p.start.slice(0, 4)))]
  for (const year of years) {
    const cell = suppressYear(year, counts, threshold)
    const inner = counts.inner.filter((r) => r.month.startsWith(year))
    const categories: Level[] = groupBy.has('bias_category') ? [...new Set(inner.map((r) => r.category))].sort() : [null]
    const places: Level[] = groupBy.has('neighborhood') ? [...new Set(inner.map((r) => r.neighborhood))].sort() : [null]
    for (const period of periods.filter((p) => p.start.startsWith(year))) {
      const month = period.length === 'month' ? period.label : null
      for (const category of categories) {
        for (const place of places) {
          const { count, suppressed } = cell([month, category, place])
          rows.push({
            position: rows.length,
            period_start: period.start,
            period_end: period.end,
            bias_category: shown(category),
            neighborhood: shown(place),
            count: suppressed ? null : count,
            suppressed
          })
        }
      }
    }
  }
  return rows
}

function periodsOf (q: { from?: string | undefined, to?: string | undefined }, byMonth: boolean, timezone: string): Period[] {
  const now = today(timezone)
  const from = q.from === undefined ? parsePeriod(String(Number(now.slice(0, 4)) - 1)) : parsePeriod(q.from)
  const to = q.to === undefined ? periodOf('month', now) : parsePeriod(q.to)
  if (from === undefined) throw unprocessable('/query/from', 'is not a month or year from 1900 to 2200')
  if (to === undefined) throw unprocessable('/query/to', 'is not a month or year from 1900 to 2200')
  if (from.start > to.end) throw unprocessable('/query/from', 'is after to')
  if (Number(to.end.slice(0, 4)) - Number(from.start.slice(0, 4)) >= 50) throw unprocessable('/query/from', 'spans more than 50 years')
  if (byMonth) return periodsBetween('month', from.start, to.end)
  if (!from.start.endsWith('-01-01') || !to.end.endsWith('-12-31')) {
    throw unprocessable('/query/group_by', 'without month needs a range of whole years (from and to written as years, or from January to December)')
  }
  return periodsBetween('year', from.start, to.end)
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(`/${NAME}`, {
    schema: {
      operationId: 'exportIncidentCounts',
      tags: ['exports'],
      summary: 'Export incident counts by month, bias category and neighbourhood, suppressed (CSV, NDJSON or JSON)',
      description: 'Counts of the incidents that count (reports whose reporters opted out of statistics, duplicates and unfounded reports ' +
        'never do), every combination listed, zeros included. Counts below the city\'s small-cell threshold are suppressed, and so is ' +
        'whatever would give them back by subtraction: each calendar year is suppressed once, as the full cut month × bias category × ' +
        'neighbourhood with all its margins, and every answer is read from it, so answers grouped differently agree with each other. ' +
        'Hidden counts are listed with `count` missing and `suppressed` true. Columns: GET /v1/exports/incident-counts/schema.',
      security: [{ bearer: ['exports:read'] }],
      querystring: CountsQuery,
      response: { 200: exportResponse(FORMATS, 'The counts, one per period and group.'), ...problemResponses(...AUTHENTICATED, 422, 503) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const groupBy = new Set((request.query.group_by ?? 'month').split(',') as Dimension[])
    const periods = periodsOf(request.query, groupBy.has('month'), caller.city.timezone)
    const format = exportFormat(request, FORMATS, request.query.format)
    const first = periods[0] as Period
    const last = periods[periods.length - 1] as Period
    const { release, slug, prepared: rows } = await beginExport(app, request, async () => {
      const counts = await readCounts(app.db, caller.cityId, `${first.start.slice(0, 4)}-01-01`, `${last.end.slice(0, 4)}-12-31`)
      try {
        return rowsOf(periods, groupBy, counts, caller.city.smallCellThreshold)
      } catch (err) {
        if (err instanceof SuppressionTableTooLarge) throw unprocessable('/query/from', 'covers more neighbourhoods and categories than can be checked for disclosure at once')
        throw err
      }
    }, () => ({
      action: 'export.incident_counts', objectType: 'export', objectId: NAME, details: { format, from: first.start, to: last.end, group_by: [...groupBy] }
    }))
    return streamExport(app, reply, {
      release,
      format,
      fileName: [slug, NAME, first.start, last.end],
      columns: COLUMNS,
      // The counts are read and suppressed above, as a whole; the pages only cut them into chunks.
      readPage: pagesOf(rows)
    })
  })
}

const incidentCountsExport: ExportModule = { name: NAME, tableSchema: tableSchema(COLUMNS), routes }
export default incidentCountsExport
