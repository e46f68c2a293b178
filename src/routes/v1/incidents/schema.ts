import Type, { type Static } from 'typebox'
import { DateOnly, Int, LanguageTag, Nullable, OrNull, PageQuery, Slug, Timestamp, Uuid } from '../../../lib/schemas.js'
import { BIAS_CATEGORIES, BIAS_CODES, LOCATION_CODES, OFFENSE_CODES } from '../../../taxonomies/index.js'

export const INCIDENT_TYPES = ['hate_crime', 'bias_incident', 'undetermined'] as const
export const STATUSES = ['received', 'under_review', 'verified', 'unfounded', 'duplicate', 'referred', 'closed'] as const
export const VICTIM_TYPES = ['individual', 'business', 'religious_organization', 'government', 'society', 'other'] as const
export const REPORTER_ROLES = ['victim', 'witness', 'organization', 'other'] as const

const BiasCode = Type.Enum(BIAS_CODES, { description: 'NIBRS 8A bias motivation code; see GET /v1/taxonomies/bias-motivations.' })
const OffenseCode = Type.Enum(OFFENSE_CODES, { description: 'NIBRS offense code; see GET /v1/taxonomies/offense-types.' })
const LocationCode = Type.Enum(LOCATION_CODES, { description: 'NIBRS location type; 58 is cyberspace. See GET /v1/taxonomies/location-types.' })
const Latitude = Type.Number({ minimum: -90, maximum: 90 })
const Longitude = Type.Number({ minimum: -180, maximum: 180 })
const CensusTract = Type.String({ pattern: '^[0-9]{1,11}(\\.[0-9]{1,2})?$', maxLength: 20, description: 'Census tract number or 11-digit GEOID.' })
const Email = Type.String({ format: 'email', maxLength: 254 })
const Phone = Type.String({ pattern: '^[0-9+().\\-\\s]{3,40}$', maxLength: 40 })

export const ReferralSchema = Type.Object({
  kind: Type.Enum(['program', 'stakeholder']),
  id: Uuid({ description: 'The program or stakeholder of the same city.' }),
  referred_on: DateOnly()
}, { additionalProperties: false })

/** The oldest day a report may describe or have been made on; documented, and checked by the incident rules. */
export const EARLIEST_DAY = '1900-01-01'

const fields = {
  incident_type: Type.Enum(INCIDENT_TYPES, { description: 'A hate crime is a criminal offense motivated by bias; a bias incident is non-criminal conduct motivated by bias.' }),
  bias_motivations: Type.Array(BiasCode, { minItems: 1, maxItems: 5, description: 'One to five codes, none twice; 88 (none) and 99 (unknown) only alone.' }),
  offense_types: Type.Array(OffenseCode, { maxItems: 10, uniqueItems: true }),
  occurred_at: Timestamp({ description: `When it happened, if the time is known: from ${EARLIEST_DAY} up to now.` }),
  occurred_on: DateOnly({ description: `The day it happened, when the time is not known (in the city's timezone): from ${EARLIEST_DAY} up to today.` }),
  reported_at: Timestamp({ description: `When it was reported: from ${EARLIEST_DAY} up to a day ahead (clocks differ); defaults to now.` }),
  language: LanguageTag({ description: 'The language the report was made in.' }),
  summary: Type.String({ maxLength: 4000, description: 'Public-safe description. E-mail addresses and phone numbers typed into it are removed on write.' }),
  narrative: Type.String({ maxLength: 20000, description: 'Personal: the reporter\'s own account. Encrypted; only keys with incidents:read_personal see it.' }),
  location: Type.Object({
    location_type: Type.Optional(Nullable(LocationCode)),
    neighborhood: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
    census_tract: Type.Optional(Nullable(CensusTract)),
    address: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 300, description: 'Personal; encrypted.' }))),
    latitude: Type.Optional(Nullable(Latitude)),
    longitude: Type.Optional(Nullable(Longitude))
  }, { additionalProperties: false, description: 'Address and precise coordinates are personal and encrypted; other keys see coordinates rounded to two decimals (about 1 km).' }),
  online: Type.Object({
    is_online: Type.Optional(Type.Boolean()),
    platform: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100, examples: ['Instagram'] })))
  }, { additionalProperties: false }),
  victim: Type.Object({
    count: Type.Optional(Nullable(Int({ minimum: 0, maximum: 100000 }))),
    type: Type.Optional(Nullable(Type.Enum(VICTIM_TYPES)))
  }, { additionalProperties: false }),
  reporter: Type.Object({
    name: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
    email: Type.Optional(Nullable(Email)),
    phone: Type.Optional(Nullable(Phone)),
    role: Type.Optional(Nullable(Type.Enum(REPORTER_ROLES)))
  }, { additionalProperties: false, description: 'Personal; encrypted. Only keys with incidents:read_personal see it.' }),
  consent: Type.Object({
    contact_ok: Type.Optional(Type.Boolean({ default: false })),
    share_with_law_enforcement: Type.Optional(Type.Boolean({ default: false })),
    include_in_statistics: Type.Optional(Type.Boolean({ default: true, description: 'False leaves the incident out of every count, KPI and export; it is still handled.' }))
  }, { additionalProperties: false }),
  referrals: Type.Array(ReferralSchema, { maxItems: 50 })
}

/** The fields a report and an import carry; each may be cleared by an import or a PATCH with an explicit null. */
const reportFields = {
  offense_types: Type.Optional(Nullable(fields.offense_types)),
  occurred_at: Type.Optional(fields.occurred_at),
  occurred_on: Type.Optional(fields.occurred_on),
  language: Type.Optional(Nullable(fields.language)),
  location: Type.Optional(Nullable(fields.location)),
  online: Type.Optional(Nullable(fields.online)),
  summary: Type.Optional(Nullable(fields.summary)),
  narrative: Type.Optional(Nullable(fields.narrative)),
  victim: Type.Optional(Nullable(fields.victim)),
  reporter: Type.Optional(Nullable(fields.reporter))
}

export const IncidentInputSchema = Type.Object({
  source: Slug({ description: 'The channel or partner reporting it, e.g. resident-portal or ngo-aapi-coalition.' }),
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The partner\'s own id; with source, unique in the city. Re-sending it updates the incident.' })),
  incident_type: fields.incident_type,
  bias_motivations: fields.bias_motivations,
  ...reportFields,
  reported_at: Type.Optional(fields.reported_at),
  consent: Type.Optional(fields.consent)
}, {
  $id: 'IncidentInput',
  additionalProperties: false,
  description: 'Give occurred_at, or occurred_on when the time is unknown. A report with an `external_id` is an import: sent again, it ' +
    'updates the stored incident as a JSON Merge Patch (RFC 7396) would — fields it omits keep their stored values, personal ones ' +
    'included; an explicit null clears that one field. The case (status, resolution, duplicate_of, referrals) is the city\'s: only ' +
    'PATCH /v1/incidents/{id} changes it.'
})

/** A resident's report through a shared, submit-only key: an incident without an external_id, so it always creates. */
export const IncidentReportSchema = Type.Object({
  ...Type.Omit(IncidentInputSchema, ['external_id']).properties
}, {
  $id: 'IncidentReport',
  additionalProperties: false,
  description: 'A report as a resident-facing form sends it: give occurred_at, or occurred_on when the time is unknown. Every report is a new ' +
    'one (there is no external_id, so nothing is ever found, merged or compared); the case is the city\'s.'
})

/** What a resident is told after a report: its id and what happens next, never the report. */
export const IncidentReceiptSchema = Type.Object({
  id: Uuid({ description: 'The report\'s id, to quote when the resident contacts the city.' }),
  status: Type.Enum(['received']),
  received_at: Timestamp(),
  next_steps: Type.String({ maxLength: 500 })
}, { $id: 'IncidentReportReceipt', additionalProperties: false, description: 'A receipt: never the report itself, nor anything stored about it.' })

export const IncidentPatchSchema = Type.Object({
  incident_type: Type.Optional(fields.incident_type),
  bias_motivations: Type.Optional(fields.bias_motivations),
  ...reportFields,
  consent: Type.Optional(fields.consent),
  referrals: Type.Optional(fields.referrals),
  status: Type.Optional(Type.Enum(STATUSES, { description: 'received → under_review → verified | unfounded | duplicate; verified → referred → closed; unfounded and duplicate → closed.' })),
  duplicate_of: Type.Optional(Uuid({ description: 'Required with status duplicate: the incident this one repeats. Both are kept.' }))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396; sent as application/merge-patch+json or application/json): only the fields given change, ' +
    'an object field (location, online, victim, consent, reporter) merges member by member, and null removes a field, e.g. ' +
    '`{"location": {"address": null}}` removes a wrong address and keeps the rest of the record and its personal data.'
})

export const IncidentSchema = Type.Object({
  id: Uuid(),
  source: Slug(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  incident_type: fields.incident_type,
  bias_motivations: Type.Array(BiasCode, { maxItems: 5 }),
  bias_categories: Type.Array(Type.Enum(BIAS_CATEGORIES), { maxItems: 8 }),
  offense_types: Type.Array(OffenseCode, { maxItems: 10 }),
  taxonomy_version: Type.String({ maxLength: 32 }),
  occurred_at: OrNull(Timestamp()),
  occurred_on: DateOnly(),
  reported_at: Timestamp(),
  language: OrNull(LanguageTag()),
  location: Type.Object({
    location_type: OrNull(LocationCode),
    neighborhood: OrNull(Type.String({ maxLength: 200 })),
    census_tract: OrNull(CensusTract),
    latitude: OrNull(Latitude),
    longitude: OrNull(Longitude),
    address: Type.Optional(OrNull(Type.String({ maxLength: 300 }))),
    coordinates_precision: Type.Enum(['exact', 'coarse', 'none'], { description: 'coarse: rounded to two decimals (about 1 km) because the key lacks incidents:read_personal.' })
  }, { additionalProperties: false }),
  online: Type.Object({ is_online: Type.Boolean(), platform: OrNull(Type.String({ maxLength: 100 })) }, { additionalProperties: false }),
  summary: OrNull(Type.String({ maxLength: 20000, description: 'As sent (at most 4000 characters), with contact details replaced by a marker, which can lengthen it.' })),
  narrative: Type.Optional(OrNull(Type.String({ maxLength: 20000 }))),
  victim: Type.Object({ count: OrNull(Int({ minimum: 0, maximum: 100000 })), type: OrNull(Type.Enum(VICTIM_TYPES)) }, { additionalProperties: false }),
  reporter: Type.Optional(OrNull(Type.Object({
    name: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.String({ maxLength: 254 })),
    phone: Type.Optional(Type.String({ maxLength: 40 })),
    role: Type.Optional(Type.Enum(REPORTER_ROLES))
  }, { additionalProperties: false }))),
  consent: Type.Object({ contact_ok: Type.Boolean(), share_with_law_enforcement: Type.Boolean(), include_in_statistics: Type.Boolean() }, { additionalProperties: false }),
  status: Type.Enum(STATUSES),
  resolution: OrNull(Type.Enum(['verified', 'unfounded', 'duplicate'], { description: 'How review ended; kept when the incident is referred or closed. Unfounded and duplicate incidents are left out of statistics.' })),
  duplicate_of: OrNull(Uuid()),
  referrals: Type.Array(ReferralSchema, { maxItems: 50 }),
  personal_data: Type.Enum(['held', 'none', 'erased'], { description: 'Whether personal data is held for this incident. Its fields (narrative, reporter, location.address, exact coordinates) appear only in GET /v1/incidents/{id} for keys with incidents:read_personal.' }),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Incident', additionalProperties: false })

export const IncidentListQuery = Type.Object({
  ...PageQuery,
  occurred_from: Type.Optional(DateOnly({ description: `Inclusive, by the day it occurred; from ${EARLIEST_DAY}.` })),
  occurred_to: Type.Optional(DateOnly({ description: `Inclusive; from ${EARLIEST_DAY}.` })),
  bias_motivation: Type.Optional(BiasCode),
  bias_category: Type.Optional(Type.Enum(BIAS_CATEGORIES)),
  incident_type: Type.Optional(fields.incident_type),
  status: Type.Optional(Type.Enum(STATUSES)),
  neighborhood: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  source: Type.Optional(Slug()),
  is_online: Type.Optional(Type.Boolean()),
  updated_since: Type.Optional(Timestamp({ description: `Only incidents changed at or after this time (from ${EARLIEST_DAY}); for partners that sync.` })),
  order: Type.Optional(Type.Enum(['occurred_desc', 'updated_asc'], {
    default: 'occurred_desc',
    description: 'occurred_desc: newest first by the day it occurred. updated_asc: the change feed, in the order changes were committed, ' +
      'for partners that sync: a change appears only once every change committed before it can be read, so paging with `next_cursor` ' +
      'never skips one, however long the import that made it ran; a changed incident appears again, later in the feed. The feed never ' +
      'ends: its last page has a `next_cursor` too; keep it and ask again later for what changed since.'
  }))
}, { additionalProperties: false })

export type IncidentInput = Static<typeof IncidentInputSchema>
export type IncidentPatch = Static<typeof IncidentPatchSchema>
export type IncidentReceipt = Static<typeof IncidentReceiptSchema>
export type Incident = Static<typeof IncidentSchema>
export type IncidentListFilter = Static<typeof IncidentListQuery>

/** What may follow each status. */
export const TRANSITIONS: Record<string, readonly string[]> = {
  received: ['under_review'],
  under_review: ['verified', 'unfounded', 'duplicate'],
  verified: ['referred', 'closed'],
  unfounded: ['closed'],
  duplicate: ['closed'],
  referred: ['closed'],
  closed: []
}
