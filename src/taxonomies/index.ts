import biasMotivations from './bias-motivations.json' with { type: 'json' }
import locationTypes from './location-types.json' with { type: 'json' }
import offenseTypes from './offense-types.json' with { type: 'json' }

/**
 * The classification lists incidents are coded with: FBI UCR/NIBRS bias motivations (data element 8A),
 * offense types and location types. They are data with a version; each incident records the version it
 * was coded under, so that a later revision of the list does not silently re-label old reports.
 */
export interface TaxonomyCode { code: string, label: string, category?: string, added_in?: string }
export interface Taxonomy { taxonomy: string, version: string, name: string, source: string, codes: TaxonomyCode[] }

export const BIAS_MOTIVATIONS = biasMotivations as Taxonomy & {
  rules: { max_per_offense: number, exclusive_codes: string[] }
  categories: Record<string, string>
}
export const OFFENSE_TYPES = offenseTypes as Taxonomy
export const LOCATION_TYPES = locationTypes as Taxonomy

export const TAXONOMY_VERSION = BIAS_MOTIVATIONS.version

const biasCategory = new Map(BIAS_MOTIVATIONS.codes.map((c) => [c.code, c.category ?? 'unknown']))
const offenseCodes = new Set(OFFENSE_TYPES.codes.map((c) => c.code))
const locationCodes = new Set(LOCATION_TYPES.codes.map((c) => c.code))

export const BIAS_CODES = [...biasCategory.keys()]
export const BIAS_CATEGORIES = Object.keys(BIAS_MOTIVATIONS.categories)
export const OFFENSE_CODES = [...offenseCodes]
export const LOCATION_CODES = [...locationCodes]
export const CYBERSPACE = '58'

/**
 * The NIBRS rules for data element 8A: one to five codes, each known, none twice, and 88 (none) or
 * 99 (unknown) only alone. Returns what is wrong, or null.
 */
export function biasMotivationProblem (codes: readonly string[]): string | null {
  const { max_per_offense: max, exclusive_codes: exclusive } = BIAS_MOTIVATIONS.rules
  if (codes.length === 0) return 'must hold at least one code'
  if (codes.length > max) return `must hold at most ${max} codes`
  const unknown = codes.filter((c) => !biasCategory.has(c))
  if (unknown.length > 0) return `holds codes that are not NIBRS bias motivations: ${unknown.join(', ')}`
  if (new Set(codes).size !== codes.length) return 'must not repeat a code'
  const alone = codes.find((c) => exclusive.includes(c))
  if (alone !== undefined && codes.length > 1) return `code ${alone} (${alone === '88' ? 'none' : 'unknown'}) cannot be combined with other codes`
  return null
}

/** The categories (race/ethnicity/ancestry, religion, ...) of a valid set of codes, in a stable order. */
export function biasCategoriesOf (codes: readonly string[]): string[] {
  const found = new Set(codes.map((c) => biasCategory.get(c) ?? 'unknown'))
  return BIAS_CATEGORIES.filter((c) => found.has(c))
}
