import { hmac } from '../../../lib/crypto.js'
import type { FieldError } from '../../../lib/problems.js'
import { removeContactDetails } from '../../../lib/scrub.js'
import { biasCategoriesOf, biasMotivationProblem, CYBERSPACE, TAXONOMY_VERSION } from '../../../taxonomies/index.js'
import type { IncidentInput } from './schema.js'

/** What only keys with incidents:read_personal may see; sealed as one blob per incident. */
export interface PersonalData {
  narrative?: string
  reporter?: NonNullable<IncidentInput['reporter']>
  address?: string
  latitude?: number
  longitude?: number
}

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
  /** Whether the report said when it was reported (else it is now, or kept from the first report). */
  reportedAtGiven: boolean
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
  referrals: NonNullable<IncidentInput['referrals']>
  personal: PersonalData | null
  contentHash: string
}

/** Clock skew tolerated for "not in the future". */
const SKEW_MS = 5 * 60_000

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

/** Two decimals of a degree: about 1 km, the precision shown without the personal scope. */
export const coarsen = (degrees: number): number => Math.round(degrees * 100) / 100

/** Key order does not change what a report says. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export interface RuleContext { timezone: string, now: Date, hashKey: Buffer }

/**
 * Applies the domain's rules to a schema-valid report. Returns the problems (paths relative to the report)
 * or the draft to store.
 */
export function prepareIncident (input: IncidentInput, context: RuleContext): { draft: Draft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  const biasProblem = biasMotivationProblem(input.bias_motivations)
  if (biasProblem !== null) problems.push({ path: '/bias_motivations', message: biasProblem })

  const latest = context.now.getTime() + SKEW_MS
  let occurredAt: Date | null = null
  let occurredOn: string | null = null
  if ((input.occurred_at === undefined) === (input.occurred_on === undefined)) {
    problems.push({ path: '/occurred_at', message: 'give either occurred_at, or occurred_on when the time is unknown' })
  } else if (input.occurred_at !== undefined) {
    occurredAt = new Date(input.occurred_at)
    if (occurredAt.getTime() > latest) problems.push({ path: '/occurred_at', message: 'must not be in the future' })
    occurredOn = localDate(occurredAt, context.timezone)
  } else if (input.occurred_on !== undefined) {
    occurredOn = input.occurred_on
    if (occurredOn > localDate(context.now, context.timezone)) problems.push({ path: '/occurred_on', message: 'must not be in the future' })
  }
  const reportedAt = input.reported_at !== undefined ? new Date(input.reported_at) : context.now
  if (reportedAt.getTime() > latest) problems.push({ path: '/reported_at', message: 'must not be in the future' })

  const location = input.location ?? {}
  if ((location.latitude === undefined) !== (location.longitude === undefined)) {
    problems.push({ path: location.latitude === undefined ? '/location/latitude' : '/location/longitude', message: 'latitude and longitude go together' })
  }
  const cyberspace = location.location_type === CYBERSPACE
  if (cyberspace && input.online?.is_online === false) {
    problems.push({ path: '/online/is_online', message: 'must be true when location_type is 58 (cyberspace)' })
  }
  if (input.online?.is_online === false && input.online.platform !== undefined) {
    problems.push({ path: '/online/platform', message: 'is only for incidents that happened online' })
  }
  if (problems.length > 0 || occurredOn === null) return { draft: null, problems }

  const personal: PersonalData = {}
  if (input.narrative !== undefined) personal.narrative = input.narrative
  if (input.reporter !== undefined && Object.keys(input.reporter).length > 0) personal.reporter = input.reporter
  if (location.address !== undefined) personal.address = location.address
  if (location.latitude !== undefined && location.longitude !== undefined) {
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
      taxonomyVersion: TAXONOMY_VERSION,
      occurredOn,
      occurredAt,
      reportedAt,
      reportedAtGiven: input.reported_at !== undefined,
      language: input.language ?? null,
      locationType: location.location_type ?? null,
      neighborhood: location.neighborhood ?? null,
      censusTract: location.census_tract ?? null,
      coarseLatitude: location.latitude !== undefined ? coarsen(location.latitude) : null,
      coarseLongitude: location.longitude !== undefined ? coarsen(location.longitude) : null,
      isOnline: input.online?.is_online ?? cyberspace,
      platform: input.online?.platform ?? null,
      summary: input.summary !== undefined ? removeContactDetails(input.summary) : null,
      victimCount: input.victim?.count ?? null,
      victimType: input.victim?.type ?? null,
      contactOk: consent.contact_ok ?? false,
      shareWithLawEnforcement: consent.share_with_law_enforcement ?? false,
      includeInStatistics: consent.include_in_statistics ?? true,
      referrals: input.referrals ?? [],
      personal: Object.keys(personal).length > 0 ? personal : null,
      // Keyed, so that the hash of a report with a phone number in it cannot be tested against guesses.
      contentHash: hmac(context.hashKey, canonical({ ...input, reported_at: input.reported_at ?? null })).toString('hex')
    }
  }
}
