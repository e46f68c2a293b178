import Type, { type Static } from 'typebox'
import { Int, LanguageTag, Nullable, OrNull, Slug, Timestamp, Uuid } from '../../../lib/schemas.js'

const StateCode = Type.String({ pattern: '^[A-Z]{2}$', minLength: 2, maxLength: 2, description: 'US state or territory, two letters.' })
const Timezone = Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone; periods (months, quarters) are counted in it.', examples: ['America/New_York'] })

export const CitySchema = Type.Object({
  id: Uuid(),
  slug: Slug(),
  name: Type.String({ maxLength: 200 }),
  state: OrNull(StateCode),
  population: OrNull(Int({ minimum: 0, maximum: 100_000_000 })),
  timezone: Timezone,
  default_language: LanguageTag(),
  languages: Type.Array(LanguageTag(), { minItems: 1, maxItems: 40, description: 'Languages residents can use in surveys and report forms.' }),
  small_cell_threshold: Int({ minimum: 3, maximum: 100, description: 'Published counts below this are suppressed (with complementary cells).' }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'City', additionalProperties: false })

export const CityPatchSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  state: Type.Optional(Nullable(StateCode)),
  population: Type.Optional(Nullable(Int({ minimum: 0, maximum: 100_000_000 }))),
  timezone: Type.Optional(Timezone),
  default_language: Type.Optional(LanguageTag()),
  languages: Type.Optional(Type.Array(LanguageTag(), { minItems: 1, maxItems: 40, uniqueItems: true })),
  small_cell_threshold: Type.Optional(Int({ minimum: 3, maximum: 100 }))
}, { additionalProperties: false, minProperties: 1 })

export type City = Static<typeof CitySchema>
export type CityPatch = Static<typeof CityPatchSchema>

/** Whether the runtime knows an IANA timezone. */
export function isTimezone (name: string): boolean {
  try {
    Intl.DateTimeFormat('en-US', { timeZone: name })
    return true
  } catch {
    return false
  }
}
