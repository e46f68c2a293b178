import type { FieldError } from '../../../lib/problems.js'
import { removeContactDetails } from '../../../lib/scrub.js'
import { localDate } from '../../../lib/dates.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { biasCategoriesOf, biasMotivationProblem, CYBERSPACE } from '../../../taxonomies/index.js'
import { EARLIEST_DAY, type IncidentInput } from './schema.js'

/** What only keys with incidents:read_personal may see; sealed as one blob per incident. */
export interface PersonalData {
  narrative?: string
  reporter?: Record<string, string>
  address?: string
  latitude?: number
  longitude?: number
}

/** The input's personal fields (dotted paths): sealed, shown only with incidents:read_personal, never named in the audit trail. */
export const PERSONAL_FIELDS = ['narrative', 'reporter', 'location.address', 'location.latitude', 'location.longitude'] as const

/** A validated report, ready to be stored: derived fields filled in, personal data set apart. */
export interface Draft {
  source: string
  externalId: string | null
  incidentType: string
  biasMotivations: string[]
  biasCategories: string[]
  offenseTypes: string[]
  taxonomyVersion: string
  occurredOn: string
  occurredAt: Date | null
  reportedAt: Date
  language: string | null
  locationType: string | null
  neighborhood: string | null
  censusTract: string | null
  coarseLatitude: number | null
  coarseLongitude: number | null
  isOnline: boolean
  platform: string | null
  summary: string | null
  victimCount: number | null
  victimType: string | null
  contactOk: boolean
  shareWithLawEnforcement: boolean
  includeInStatistics: boolean
  personal: PersonalData | null
}

/** Clock skew tolerated for "not in the future". */
const SKEW_MS = 5 * 60_000
/** A partner's clock, or its timezone handling, may put when a report was made up to a day ahead. */
const REPORTED_AHEAD_MS = 24 * 60 * 60_000
const EARLIEST_INSTANT = Date.parse(`${EARLIEST_DAY}T00:00:00Z`)

/**
 * The documented range of a date filter: from EARLIEST_DAY, so that no query is sent a day PostgreSQL
 * cannot hold (year 0). Returns the problem, or null.
 */
export function dateFilterProblem (path: string, value: string | undefined): FieldError | null {
  if (value === undefined) return null
  return (value.length === 10 ? value < EARLIEST_DAY : Date.parse(value) < EARLIEST_INSTANT) ? { path, message: `must be on or after ${EARLIEST_DAY}` } : null
}

/** Two decimals of a degree: about 1 km, the precision shown without the personal scope. */
export const coarsen = (degrees: number): number => Math.round(degrees * 100) / 100

/**
 * A stored incident (as input) with a change applied: a JSON Merge Patch, where giving either day field
 * replaces the other (an incident has occurred_at or occurred_on, never both).
 */
export function mergeIncident (stored: IncidentInput, change: Partial<IncidentInput>): IncidentInput {
  const merged = applyMergePatch(stored, change)
  if (change.occurred_at != null) delete merged.occurred_on
  if (change.occurred_on != null) delete merged.occurred_at
  return merged
}

/** Whether a change carries NIBRS codes, which are then checked against the taxonomy in force. */
export const carriesCodes = (change: Partial<IncidentInput>): boolean =>
  change.bias_motivations !== undefined || change.offense_types !== undefined || change.location?.location_type != null

export interface RuleContext {
  timezone: string
  now: Date
  /** The calendar day of `now` in the city's timezone. */
  today: string
  /** The taxonomy version the codes were checked against: the one in force, or the stored one if the change named no code. */
  taxonomyVersion: string
}

/** What the rules judge a report by: the city's timezone, the clock read once, and the day it makes there. */
export function ruleContext (timezone: string, taxonomyVersion: string, now = new Date()): RuleContext {
  return { timezone, now, today: localDate(now, timezone), taxonomyVersion }
}

/**
 * Applies the domain's rules to a schema-valid report (a new one, or a stored one with a change merged in).
 * Returns the problems (paths relative to the report) or the draft to store.
 */
export function prepareIncident (input: IncidentInput, context: RuleContext): { draft: Draft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  const biasProblem = biasMotivationProblem(input.bias_motivations)
  if (biasProblem !== null) problems.push({ path: '/bias_motivations', message: biasProblem })

  const latest = context.now.getTime() + SKEW_MS
  let occurredAt: Date | null = null
  let occurredOn: string | null = null
  if ((input.occurred_at == null) === (input.occurred_on == null)) {
    problems.push({ path: '/occurred_at', message: 'give either occurred_at, or occurred_on when the time is unknown' })
  } else if (input.occurred_at != null) {
    occurredAt = new Date(input.occurred_at)
    if (occurredAt.getTime() < EARLIEST_INSTANT) problems.push({ path: '/occurred_at', message: `must be on or after ${EARLIEST_DAY}` })
    else if (occurredAt.getTime() > latest) problems.push({ path: '/occurred_at', message: 'must not be in the future' })
    else occurredOn = localDate(occurredAt, context.timezone)
  } else if (input.occurred_on != null) {
    occurredOn = input.occurred_on
    if (occurredOn < EARLIEST_DAY) problems.push({ path: '/occurred_on', message: `must be on or after ${EARLIEST_DAY}` })
    else if (occurredOn > context.today) problems.push({ path: '/occurred_on', message: 'must not be in the future' })
  }
  const reportedAt = input.reported_at != null ? new Date(input.reported_at) : context.now
  if (reportedAt.getTime() < EARLIEST_INSTANT) problems.push({ path: '/reported_at', message: `must be on or after ${EARLIEST_DAY}` })
  else if (reportedAt.getTime() > context.now.getTime() + REPORTED_AHEAD_MS) problems.push({ path: '/reported_at', message: 'must not be more than a day ahead' })

  const location = input.location ?? {}
  if ((location.latitude == null) !== (location.longitude == null)) {
    problems.push({ path: location.latitude == null ? '/location/latitude' : '/location/longitude', message: 'latitude and longitude go together' })
  }
  const cyberspace = location.location_type === CYBERSPACE
  if (cyberspace && input.online?.is_online === false) {
    problems.push({ path: '/online/is_online', message: 'must be true when location_type is 58 (cyberspace)' })
  }
  if (input.online?.is_online === false && input.online.platform != null) {
    problems.push({ path: '/online/platform', message: 'is only for incidents that happened online' })
  }
  if (problems.length > 0 || occurredOn === null) return { draft: null, problems }

  const personal: PersonalData = {}
  if (input.narrative != null) personal.narrative = input.narrative
  const reporter = withoutNulls(input.reporter ?? {})
  if (Object.keys(reporter).length > 0) personal.reporter = reporter
  if (location.address != null) personal.address = location.address
  if (location.latitude != null && location.longitude != null) {
    personal.latitude = location.latitude
    personal.longitude = location.longitude
  }
  const consent = input.consent ?? {}
  return {
    problems: [],
    draft: {
      source: input.source,
      externalId: input.external_id ?? null,
      incidentType: input.incident_type,
      biasMotivations: input.bias_motivations,
      biasCategories: biasCategoriesOf(input.bias_motivations),
      offenseTypes: input.offense_types ?? [],
      taxonomyVersion: context.taxonomyVersion,
      occurredOn,
      occurredAt,
      reportedAt,
      language: input.language ?? null,
      locationType: location.location_type ?? null,
      neighborhood: location.neighborhood ?? null,
      censusTract: location.census_tract ?? null,
      coarseLatitude: location.latitude != null ? coarsen(location.latitude) : null,
      coarseLongitude: location.longitude != null ? coarsen(location.longitude) : null,
      isOnline: input.online?.is_online ?? (cyberspace || input.online?.platform != null),
      platform: input.online?.platform ?? null,
      summary: input.summary != null ? removeContactDetails(input.summary) : null,
      victimCount: input.victim?.count ?? null,
      victimType: input.victim?.type ?? null,
      contactOk: consent.contact_ok ?? false,
      shareWithLawEnforcement: consent.share_with_law_enforcement ?? false,
      includeInStatistics: consent.include_in_statistics ?? true,
      personal: Object.keys(personal).length > 0 ? personal : null
    }
  }
}

/** The members of an object that are not null. */
function withoutNulls<T extends object> (value: T): { [K in keyof T]: NonNullable<T[K]> } {
  const out: Record<string, unknown> = {}
  for (const name in value) if (value[name] != null) out[name] = value[name]
  return out as { [K in keyof T]: NonNullable<T[K]> }
}
