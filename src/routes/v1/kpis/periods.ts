import type { KPI_PERIODS } from '../../../db/schema/index.js'

/** The length of a period a KPI is tracked or read by. */
export type PeriodLength = typeof KPI_PERIODS[number]

/** A calendar period of the city: a month, a quarter or a year, with its first and last day. */
export interface Period {
  length: PeriodLength
  /** `2026-03`, `2026-Q1` or `2026`. */
  label: string
  /** The first day, YYYY-MM-DD. */
  start: string
  /** The last day, YYYY-MM-DD. */
  end: string
}

const MONTHS: Record<PeriodLength, number> = { month: 1, quarter: 3, year: 12 }

/** The pattern a period is written in, for schemas. */
export const PERIOD_PATTERN = '^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$'

/** The oldest and the latest year a period may lie in. */
export const FIRST_YEAR = 1900
export const LAST_YEAR = 2200

/** Whether `a` is a finer length than `b` (a month is finer than a quarter). */
export const isFiner = (a: PeriodLength, b: PeriodLength): boolean => MONTHS[a] < MONTHS[b]

/** The number of months of a length, which is also its step in SQL (`interval 'n months'`). */
export const monthsOf = (length: PeriodLength): number => MONTHS[length]

const pad = (n: number): string => String(n).padStart(2, '0')

/** The period of a length that starts at month `index` (months since year 0, January = 0). */
function periodAt (length: PeriodLength, index: number): Period {
  const step = MONTHS[length]
  const first = Math.floor(index / step) * step
  const year = Math.floor(first / 12)
  const month = (first % 12) + 1
  const last = first + step - 1
  const lastYear = Math.floor(last / 12)
  const lastMonth = (last % 12) + 1
  const lastDay = new Date(Date.UTC(lastYear, lastMonth, 0)).getUTCDate()
  const label = length === 'year' ? String(year) : length === 'quarter' ? `${year}-Q${(month + 2) / 3}` : `${year}-${pad(month)}`
  return { length, label, start: `${year}-${pad(month)}-01`, end: `${lastYear}-${pad(lastMonth)}-${pad(lastDay)}` }
}

const monthIndex = (day: string): number => Number(day.slice(0, 4)) * 12 + Number(day.slice(5, 7)) - 1

/** Reads `2026-03`, `2026-Q1` or `2026`; undefined for anything else or a year out of range. */
export function parsePeriod (text: string): Period | undefined {
  const match = /^([0-9]{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$/.exec(text)
  if (match === null) return undefined
  const year = Number(match[1])
  if (year < FIRST_YEAR || year > LAST_YEAR) return undefined
  if (match[2] !== undefined) return periodAt('month', year * 12 + Number(match[2]) - 1)
  if (match[3] !== undefined) return periodAt('quarter', year * 12 + (Number(match[3]) - 1) * 3)
  return periodAt('year', year * 12)
}

/** The period of a length that holds a day (YYYY-MM-DD). */
export const periodOf = (length: PeriodLength, day: string): Period => periodAt(length, monthIndex(day))

/** The period of the same length right before. */
export const previousPeriod = (period: Period): Period => periodAt(period.length, monthIndex(period.start) - MONTHS[period.length])

/** Every period of a length from the one holding `from` to the one holding `to`, both days YYYY-MM-DD. */
export function periodsBetween (length: PeriodLength, from: string, to: string): Period[] {
  const out: Period[] = []
  for (let index = monthIndex(periodOf(length, from).start); index <= monthIndex(to); index += MONTHS[length]) out.push(periodAt(length, index))
  return out
}

/** The periods of a finer length that make up a coarser one, in order. */
export const partsOf = (period: Period, length: PeriodLength): Period[] => periodsBetween(length, period.start, period.end)
