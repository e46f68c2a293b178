/**
 * A KPI's values period by period, from the numbers its SQL answered for each period of the KPI's own
 * length over whole years: rolled up to the period asked for, suppressed, and set against the targets.
 *
 * Suppression. The numbers of a sensitive metric (incidents, survey respondents) form one table: every
 * period of the KPI's own length, every quarter and every year of the years the range touches, tied by
 * groups (a quarter is its months, a year its quarters), and for a share the split of the denominator into
 * the numerator and the rest. lib/suppression.ts hides the small counts and whatever would give them back,
 * over the whole table, whatever length the request asked for: the months served alone and the quarters
 * served alone come from one suppression, so subtracting two shown months from a shown quarter never gives
 * a hidden month back. Years are the unit: a range is widened to whole years before suppressing, so two
 * requests over different ranges of the same years agree.
 */
import { suppress, type SuppressionTable, type TableCell, type TableGroup } from '../../../lib/suppression.js'
import type { Metric } from './metrics.js'
import { isFiner, partsOf, periodsBetween, type Period, type PeriodLength } from './periods.js'

/** What the SQL answered for one period of the KPI's own length. */
export interface RawPoint {
  periodStart: string
  numerator: number | null
  denominator: number | null
  /** A manual KPI's value as entered; null for computed ones. */
  value: number | null
}

export type PointStatus = 'on_track' | 'off_track' | 'no_target'

/** Why a value is null when it is not suppressed. */
export type NullReason = 'population_missing' | 'no_measurement' | 'empty_denominator'

export interface SeriesPoint {
  period: string
  period_start: string
  period_end: string
  value: number | null
  numerator: number | null
  denominator: number | null
  target: number | null
  status: PointStatus | null
  suppressed: boolean
  reason: NullReason | null
}

export interface SeriesKpi {
  period: PeriodLength
  direction: string
  targets: Record<string, number>
}

export interface SeriesRequest {
  /** The length asked for: the KPI's own or coarser. */
  length: PeriodLength
  /** The periods to answer, of `length`. */
  periods: Period[]
  /** The city's small-cell threshold. */
  threshold: number
}

const LENGTHS: PeriodLength[] = ['month', 'quarter', 'year']

interface Sums { numerator: number | null, denominator: number | null, value?: number | null }

/** Rolls the KPI's own periods up into one of `length`, as the metric's kind says. */
function rollUp (metric: Metric | undefined, parts: Array<Sums | undefined>): Sums {
  const present = parts.filter((p): p is Sums => p !== undefined)
  if (metric === undefined || metric.kind === 'stock' || metric.kind === 'stock_share') {
    const last = present[present.length - 1]
    return { numerator: last?.numerator ?? null, denominator: last?.denominator ?? null }
  }
  const add = (pick: (s: Sums) => number | null): number | null => present.reduce<number | null>((sum, p) => {
    const v = pick(p)
    return v === null ? sum : (sum ?? 0) + v
  }, null)
  const numerator = add((p) => p.numerator) ?? 0
  if (metric.kind === 'count') return { numerator, denominator: null }
  if (metric.kind === 'rate') return { numerator, denominator: present[present.length - 1]?.denominator ?? null }
  return { numerator, denominator: add((p) => p.denominator) ?? 0 }
}

const round = (value: number): number => Math.round(value * 10000) / 10000

function valueOf (metric: Metric | undefined, sums: Sums): { value: number | null, reason: NullReason | null } {
  const { numerator, denominator } = sums
  switch (metric?.kind) {
    case undefined:
      return sums.value === null || sums.value === undefined ? { value: null, reason: 'no_measurement' } : { value: sums.value, reason: null }
    case 'count':
    case 'stock':
      return numerator === null ? { value: null, reason: 'no_measurement' } : { value: numerator, reason: null }
    case 'rate':
      if (denominator === null) return { value: null, reason: 'population_missing' }
      if (denominator === 0) return { value: null, reason: 'empty_denominator' }
      return { value: round((numerator ?? 0) * 100000 / denominator), reason: null }
    case 'share':
    case 'stock_share':
    case 'mean':
      if (denominator === null || denominator === 0) return { value: null, reason: 'empty_denominator' }
      return { value: round((numerator ?? 0) * (metric.kind === 'mean' ? 1 : 100) / denominator), reason: null }
  }
}

export function statusOf (direction: string, value: number | null, target: number | null): PointStatus | null {
  if (value === null) return null
  if (target === null) return 'no_target'
  return (direction === 'increase' ? value >= target : value <= target) ? 'on_track' : 'off_track'
}

/**
 * The series of a computed KPI. `raw` holds the KPI's own periods over the whole years of the range (a
 * period the SQL found nothing in may be missing); manual KPIs pass no metric and are never rolled up.
 */
export function buildSeries (kpi: SeriesKpi, metric: Metric | undefined, raw: readonly RawPoint[], request: SeriesRequest): SeriesPoint[] {
  const own = new Map<string, Sums>(raw.map((r) => [r.periodStart, { numerator: r.numerator, denominator: r.denominator, value: r.value }]))
  const sumsOf = (period: Period): Sums | undefined => period.length === kpi.period
    ? own.get(period.start)
    : rollUp(metric, partsOf(period, kpi.period).map((part) => own.get(part.start) ?? (metric === undefined ? undefined : { numerator: 0, denominator: metric.kind === 'rate' ? null : 0 })))
  const hidden = metric?.sensitive === true ? suppressedPeriods(kpi.period, metric, request, sumsOf) : new Set<string>()
  return request.periods.map((period) => {
    const sums = sumsOf(period) ?? { numerator: null, denominator: null }
    const target = kpi.targets[period.label] ?? null
    const base = { period: period.label, period_start: period.start, period_end: period.end, target }
    if (hidden.has(period.label)) return { ...base, value: null, numerator: null, denominator: null, status: null, suppressed: true, reason: null }
    const { value, reason } = valueOf(metric, sums)
    return { ...base, value, numerator: sums.numerator, denominator: sums.denominator, status: statusOf(kpi.direction, value, target), suppressed: false, reason }
  })
}

/**
 * The labels of the periods whose counts lib/suppression.ts hides, from one suppression of every period
 * length from the KPI's own up to the year, over the whole years the request touches.
 */
function suppressedPeriods (own: PeriodLength, metric: Metric, request: SeriesRequest, sumsOf: (p: Period) => Sums | undefined): Set<string> {
  const first = request.periods[0]
  const last = request.periods[request.periods.length - 1]
  if (first === undefined || last === undefined) return new Set()
  const from = `${first.start.slice(0, 4)}-01-01`
  const to = `${last.end.slice(0, 4)}-12-31`
  const lengths = LENGTHS.filter((length) => !isFiner(length, own))
  // A share splits its denominator into the numerator and the rest; a mean protects the number of answers;
  // a count and a rate protect their numerator.
  const parts = metric.kind === 'share' ? ['yes', 'no', 'all'] : ['n']
  const countsOf = (sums: Sums | undefined): Record<string, number> => {
    const numerator = Math.round(sums?.numerator ?? 0)
    const denominator = Math.round(sums?.denominator ?? 0)
    if (metric.kind === 'share') return { yes: numerator, no: Math.max(denominator - numerator, 0), all: denominator }
    return { n: metric.kind === 'mean' ? denominator : numerator }
  }
  const key = (period: Period, part: string): string => `${period.label}|${part}`
  const cells: TableCell[] = []
  const groups: TableGroup[] = []
  for (const [level, length] of lengths.entries()) {
    for (const period of periodsBetween(length, from, to)) {
      const counts = countsOf(sumsOf(period))
      for (const part of parts) cells.push({ key: key(period, part), count: counts[part] ?? 0 })
      if (metric.kind === 'share') groups.push({ key: `${period.label}|split`, total: key(period, 'all'), members: [key(period, 'yes'), key(period, 'no')] })
      const finer = lengths[level - 1]
      if (finer === undefined) continue
      for (const part of parts) {
        groups.push({ key: `${period.label}|${part}|${finer}`, total: key(period, part), members: partsOf(period, finer).map((p) => key(p, part)) })
      }
    }
  }
  const table: SuppressionTable = { cells, groups }
  const result = suppress(table, { threshold: request.threshold })
  const out = new Set<string>()
  for (const cell of result.cells.values()) {
    if (cell.suppressed) out.add(cell.key.slice(0, cell.key.indexOf('|')))
  }
  return out
}
