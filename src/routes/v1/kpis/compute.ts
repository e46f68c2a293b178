import type { Executor } from '../../../db/client.js'
import { today } from '../../../lib/dates.js'
import { ProblemError } from '../../../lib/problems.js'
import { metricOf } from './metrics.js'
import { isFiner, parsePeriod, periodOf, periodsBetween, previousPeriod, type Period, type PeriodLength } from './periods.js'
import { seriesNumbers, type KpiRow } from './repo.js'
import { MAX_SERIES_POINTS } from './schema.js'
import { buildSeries, type SeriesPoint } from './series.js'

/** The periods a series answers: all of one length. */
export interface SeriesRange {
  length: PeriodLength
  periods: Period[]
}

const unprocessable = (path: string, message: string): ProblemError =>
  new ProblemError('unprocessable', `${path} ${message}`, { errors: [{ path, message }] })

/**
 * The length a KPI may be read by: its own, or coarser for a computed KPI (a month-by-month count rolls up
 * into quarters and years). Manual values are never rolled up: a quarter is not the sum, nor the mean, of
 * values entered by hand, so only the person entering them can say what it is.
 */
export function lengthFor (kpi: KpiRow, asked: PeriodLength | undefined, path = '/query/period'): PeriodLength {
  const own = kpi.period as PeriodLength
  const length = asked ?? own
  if (isFiner(length, own)) throw unprocessable(path, `is finer than the KPI's own period (${own}); its values exist by ${own} only`)
  if (length !== own && kpi.method === 'manual') throw unprocessable(path, `must be the KPI's own period (${own}): manual values are not rolled up`)
  return length
}

/**
 * The whole periods of `length` from the one holding the start of `from` to the one holding the end of
 * `to` (any length each); by default the twelve periods up to the current one in the city's timezone.
 */
export function rangeOf (length: PeriodLength, query: { from?: string | undefined, to?: string | undefined }, timezone: string): SeriesRange {
  const to = query.to === undefined ? periodOf(length, today(timezone)) : parsePeriod(query.to)
  if (to === undefined) throw unprocessable('/query/to', 'is not a period from 1900 to 2200')
  let from: Period | undefined
  if (query.from === undefined) {
    from = periodOf(length, to.end)
    for (let i = 0; i < 11; i++) from = previousPeriod(from)
  } else {
    from = parsePeriod(query.from)
    if (from === undefined) throw unprocessable('/query/from', 'is not a period from 1900 to 2200')
  }
  if (from.start > to.end) throw unprocessable('/query/from', 'is after to')
  const periods = periodsBetween(length, from.start, to.end)
  if (periods.length > MAX_SERIES_POINTS) throw unprocessable('/query/from', `spans more than ${MAX_SERIES_POINTS} periods`)
  return { length, periods }
}

/**
 * The series of one KPI or many, in one SQL statement for all of them: each KPI's own periods over the
 * whole years its range touches (suppression works on whole years, so that two requests agree), then
 * rolled up, suppressed and set against the targets in series.ts.
 */
export async function computeSeries (db: Executor, cityId: string, threshold: number, items: ReadonlyArray<{ kpi: KpiRow, range: SeriesRange }>): Promise<Map<string, SeriesPoint[]>> {
  const parts = items.filter((item) => item.range.periods.length > 0).map(({ kpi, range }) => ({
    kpi,
    from: `${(range.periods[0] as Period).start.slice(0, 4)}-01-01`,
    to: `${(range.periods[range.periods.length - 1] as Period).end.slice(0, 4)}-12-31`
  }))
  const numbers = await seriesNumbers(db, cityId, parts)
  const out = new Map<string, SeriesPoint[]>()
  for (const { kpi, range } of items) {
    const metric = kpi.method === 'manual' ? undefined : metricOf(kpi.metric)
    out.set(kpi.id, buildSeries({ period: kpi.period as PeriodLength, direction: kpi.direction, targets: kpi.targets }, metric, numbers.get(kpi.id) ?? [], {
      length: range.length,
      periods: range.periods,
      threshold
    }))
  }
  return out
}

/**
 * The period a dashboard shows for a KPI: for a computed KPI the last complete period of its own length
 * (the current one is still counting), for a manual KPI the latest period with a value in the last two
 * years up to the current one.
 */
export function summaryRange (kpi: KpiRow, timezone: string): SeriesRange {
  const length = kpi.period as PeriodLength
  const current = periodOf(length, today(timezone))
  const last = kpi.method === 'manual' ? current : previousPeriod(current)
  const from = periodOf('year', `${Number(last.start.slice(0, 4)) - 1}-01-01`)
  return { length, periods: periodsBetween(length, from.start, last.end) }
}

export function latestOf (kpi: KpiRow, points: SeriesPoint[]): SeriesPoint | null {
  if (kpi.method !== 'manual') return points[points.length - 1] ?? null
  for (let i = points.length - 1; i >= 0; i--) {
    const point = points[i] as SeriesPoint
    if (point.value !== null) return point
  }
  return null
}
