import Type, { type Static } from 'typebox'
import { SERVICE_TYPES } from '../../../db/schema/index.js'
import { Int, LanguageTag, Nullable, OrNull, PageQuery, Timestamp, Uuid } from '../../../lib/schemas.js'

const Neighborhood = Type.String({ minLength: 1, maxLength: 200, description: 'A neighbourhood (area) of the city.' })

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 4000 }),
  provider_id: Uuid({ description: 'The stakeholder (usually an organisation) that runs the program, in the same city.' }),
  service_types: Type.Array(Type.Enum(SERVICE_TYPES), { maxItems: SERVICE_TYPES.length, uniqueItems: true, description: 'What the program offers.' }),
  languages: Type.Array(LanguageTag(), { maxItems: 40, uniqueItems: true, description: 'The languages the program serves people in (BCP 47).' }),
  neighborhoods: Type.Array(Neighborhood, { maxItems: 100, uniqueItems: true, description: 'The areas it serves; none: the whole city.' }),
  eligibility: Type.String({ maxLength: 2000, description: 'Who may use it.' }),
  public_email: Type.String({ format: 'email', maxLength: 254, description: 'The program\'s public address (not a person\'s).' }),
  public_phone: Type.String({ pattern: '^[0-9+().\\-\\s]{3,40}$', maxLength: 40, description: 'The program\'s public number.' }),
  url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
  active: Type.Boolean({ description: 'False archives the program: what refers to it keeps its meaning, and it leaves the directory\'s active list.' })
}

export const ProgramInputSchema = Type.Object({
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The id in the city\'s own spreadsheet; unique in the city. Sent again, it updates the program.' })),
  name: fields.name,
  description: Type.Optional(Nullable(fields.description)),
  provider_id: Type.Optional(Nullable(fields.provider_id)),
  service_types: Type.Optional(Nullable(fields.service_types)),
  languages: Type.Optional(Nullable(fields.languages)),
  neighborhoods: Type.Optional(Nullable(fields.neighborhoods)),
  eligibility: Type.Optional(Nullable(fields.eligibility)),
  public_email: Type.Optional(Nullable(fields.public_email)),
  public_phone: Type.Optional(Nullable(fields.public_phone)),
  url: Type.Optional(Nullable(fields.url)),
  active: Type.Optional(fields.active)
}, {
  $id: 'ProgramInput',
  additionalProperties: false,
  description: 'A program of the directory. Its contact details are the program\'s public ones, not personal data. A program with an ' +
    '`external_id` is an import: sent again, it updates the stored program as a JSON Merge Patch would — fields it omits keep their stored ' +
    'values; an explicit null clears that one field.'
})

export const ProgramPatchSchema = Type.Object({
  name: Type.Optional(fields.name),
  description: Type.Optional(Nullable(fields.description)),
  provider_id: Type.Optional(Nullable(fields.provider_id)),
  service_types: Type.Optional(Nullable(fields.service_types)),
  languages: Type.Optional(Nullable(fields.languages)),
  neighborhoods: Type.Optional(Nullable(fields.neighborhoods)),
  eligibility: Type.Optional(Nullable(fields.eligibility)),
  public_email: Type.Optional(Nullable(fields.public_email)),
  public_phone: Type.Optional(Nullable(fields.public_phone)),
  url: Type.Optional(Nullable(fields.url)),
  active: Type.Optional(fields.active)
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): only the fields given change, and null removes a field. `{"active": false}` archives the program.'
})

export const ProgramSchema = Type.Object({
  id: Uuid(),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  name: Type.String({ maxLength: 200 }),
  description: OrNull(Type.String({ maxLength: 4000 })),
  provider_id: OrNull(Uuid()),
  service_types: Type.Array(Type.Enum(SERVICE_TYPES), { maxItems: SERVICE_TYPES.length }),
  languages: Type.Array(LanguageTag(), { maxItems: 40 }),
  neighborhoods: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 100 }),
  eligibility: OrNull(Type.String({ maxLength: 2000 })),
  public_email: OrNull(Type.String({ maxLength: 254 })),
  public_phone: OrNull(Type.String({ maxLength: 40 })),
  url: OrNull(Type.String({ maxLength: 2000 })),
  active: Type.Boolean(),
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Program', additionalProperties: false })

export const ProgramListQuery = Type.Object({
  ...PageQuery,
  service_type: Type.Optional(Type.Enum(SERVICE_TYPES, { description: 'Only programs offering this service.' })),
  language: Type.Optional(LanguageTag({ description: 'Only programs serving people in this language; `es` also finds `es-MX`.' })),
  neighborhood: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only programs serving this area (as the directory spells it, ignoring case), or the whole city.' })),
  provider_id: Type.Optional(Uuid({ description: 'Only the programs of this stakeholder.' })),
  active: Type.Optional(Type.Boolean()),
  updated_since: Type.Optional(Timestamp({ description: 'Only programs changed at or after this time.' })),
  order: Type.Optional(Type.Enum(['name', 'updated_asc'], {
    default: 'name',
    description: 'name: alphabetical. updated_asc: the change feed, as for incidents: in the order changes were committed, never skipping ' +
      'one; its last page has a `next_cursor` too, to ask again later.'
  }))
}, { additionalProperties: false })

export type ProgramInput = Static<typeof ProgramInputSchema>
export type ProgramPatch = Static<typeof ProgramPatchSchema>
export type Program = Static<typeof ProgramSchema>
export type ProgramListFilter = Static<typeof ProgramListQuery>
