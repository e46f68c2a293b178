/**
 * One formatter per timezone: building an Intl.DateTimeFormat costs far more than formatting with it (it was
 * a seventh of the CPU of a 1,000-report import), and the set of IANA zones is small and fixed.
 */
const dayFormats = new Map<string, Intl.DateTimeFormat>()

/** The calendar day of an instant in a timezone, as YYYY-MM-DD. */
export function localDate (instant: Date, timeZone: string): string {
  let format = dayFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    dayFormats.set(timeZone, format)
  }
  return format.format(instant)
}

/** Today in a timezone, as YYYY-MM-DD: what "overdue", "current" and "in the past" are judged by. */
export const today = (timeZone: string): string => localDate(new Date(), timeZone)
