import Type, { type Static, type TProperties } from 'typebox'
import { ENGAGEMENT_LEVELS, LEGS } from '../../../db/schema/index.js'
import { DateOnly, Int, OrNull, Uuid } from '../../../lib/schemas.js'

export type Leg = typeof LEGS[number]
export type EngagementLevel = typeof ENGAGEMENT_LEVELS[number]

/**
 * The categories each leg gathers, as the generated `leg` column of stakeholders derives them (the assessment
 * groups by that column; a test checks that the two agree). Written out here for the contract's descriptions.
 */
export const LEG_CATEGORIES: Record<Leg, readonly string[]> = {
  elected: ['elected_official'],
  city_staff: ['city_staff', 'human_rights_commission'],
  community: ['community_organization', 'faith_community', 'social_services', 'youth', 'education', 'public_health', 'academia', 'business', 'media'],
  law_enforcement: ['law_enforcement']
}
export const CATEGORIES_WITHOUT_LEG = ['federal_partner', 'other'] as const

/** Points of each engagement level: identified 0 … leading 4. */
export const ENGAGEMENT_SCORE: Record<EngagementLevel, number> = { identified: 0, aware: 1, engaged: 2, active: 3, leading: 4 }

/** Above this share of all brokerage (betweenness) held by one stakeholder, the network hangs on that stakeholder. */
export const SINGLE_BROKER_SHARE = 0.5
/** How many brokers are listed. */
export const BROKERS_LISTED = 10
/** How many isolated stakeholders are listed (the count gives them all). */
export const ISOLATED_LISTED = 1000
/** How many connected components are listed (the count gives them all), and how many ids of one component. */
export const COMPONENTS_LISTED = 200
export const COMPONENT_IDS_LISTED = 10_000
/** Figures that are ratios (scores, means, densities, betweenness, shares) are rounded to this many decimals. */
export const DECIMALS = 6

export const ATTENDANCE_MONTHS = { minimum: 1, maximum: 36, default: 6 } as const

const legList = (leg: Leg) => `${leg} ← ${LEG_CATEGORIES[leg].join(', ')}`
export const LEGS_DEFINITION = `${LEGS.map(legList).join('; ')}; no leg ← ${CATEGORIES_WITHOUT_LEG.join(', ')} (listed apart, in \`without_leg\`)`

export const AssessmentQuery = Type.Object({
  attendance_months: Type.Optional(Int({
    ...ATTENDANCE_MONTHS,
    description: 'How many months back `attendance` looks, up to and including today in the city\'s timezone.'
  }))
}, { additionalProperties: false })

const LegName = Type.Enum(LEGS, { description: 'A leg of the four-legged stool.' })
const Count = (description: string) => Int({ minimum: 0, maximum: 2147483647, description })
const Ratio = (description: string) => OrNull(Type.Number({ minimum: 0, description: `${description} Rounded to ${DECIMALS} decimals.` }))

const EngagementDistribution = Type.Object(
  Object.fromEntries(ENGAGEMENT_LEVELS.map((level) => [level, Count(`Stakeholders at the level ${level} (${ENGAGEMENT_SCORE[level]} points).`)])) as
    Record<EngagementLevel, ReturnType<typeof Count>>,
  { additionalProperties: false, description: 'How many stakeholders are at each engagement level.' }
)

const groupFields = {
  stakeholders: Count('Active stakeholders.'),
  leadership_group_members: Count('Active stakeholders with a leadership-group role and no `left_on` in the past (observers included).'),
  engagement: EngagementDistribution,
  engaged_or_above: Count('Active stakeholders engaged, active or leading.'),
  engagement_score: Ratio('The mean engagement score (identified 0, aware 1, engaged 2, active 3, leading 4); null without stakeholders.')
}

const LegSummary = Type.Object({ leg: LegName, ...groupFields }, { additionalProperties: false })
const GroupSummary = Type.Object(groupFields, {
  additionalProperties: false,
  description: `Stakeholders of no leg (${CATEGORIES_WITHOUT_LEG.join(', ')}), counted apart. Their ties count in components and brokers, not between legs.`
})

const LegPair = Type.Object({
  legs: Type.Array(LegName, { minItems: 2, maxItems: 2, description: 'The two legs in the order elected, city_staff, community, law_enforcement; the same leg twice for ties within it.' }),
  ties: Count('Ties between a stakeholder of one leg and one of the other (within the leg: between two of its stakeholders).'),
  mean_strength: Ratio('The mean strength (1-5) of those ties; null without ties.'),
  density: Ratio('Ties ÷ possible ties: |A| × |B| between two legs, n(n−1)/2 within a leg; null when no tie is possible.')
}, { additionalProperties: false })

const StakeholderRef = {
  id: Uuid(),
  name: Type.String({ maxLength: 200 }),
  leg: OrNull(LegName)
}

const Broker = Type.Object({
  ...StakeholderRef,
  betweenness: Type.Number({ minimum: 0, maximum: 1, description: `Normalised betweenness centrality: the share of pairs of other active stakeholders whose shortest paths pass through this one (split evenly between equally short paths), over (n−1)(n−2)/2 pairs. Rounded to ${DECIMALS} decimals.` }),
  share: Type.Number({ minimum: 0, maximum: 1, description: `This stakeholder's betweenness ÷ the sum of every stakeholder's. Rounded to ${DECIMALS} decimals.` })
}, { additionalProperties: false })

const Component = Type.Object({
  size: Count('Stakeholders in the component.'),
  legs: Type.Array(LegName, { maxItems: 4, description: 'The legs its stakeholders belong to, in leg order.' }),
  stakeholder_ids: Type.Array(Uuid(), { maxItems: COMPONENT_IDS_LISTED, description: `Its stakeholders' ids in ascending order (at most ${COMPONENT_IDS_LISTED.toLocaleString('en-US')}; \`size\` counts them all).` })
}, { additionalProperties: false })

const LegAttendance = Type.Object({
  attendances: Count('Attendances: one per meeting and stakeholder present.'),
  attendees: Count('Distinct stakeholders who came.'),
  meetings_attended: Count('Meetings at least one of them came to.')
}, { additionalProperties: false })

const SuggestionOf = <Code extends string, Params extends TProperties>(code: Code, description: string, params: Params) =>
  Type.Object({
    code: Type.Literal(code),
    params: Type.Object(params, { additionalProperties: false }),
    text: Type.String({ maxLength: 1000, description: 'The suggestion in English; a portal may translate it from `code` and `params`.' })
  }, { additionalProperties: false, description: `\`${code}\`: ${description}` })

const EngagedParam = Count('Stakeholders of the leg engaged or above.')

export const SuggestionSchema = Type.Union([
  SuggestionOf('leg_without_stakeholders', 'a leg has no active stakeholder.', { leg: LegName }),
  SuggestionOf('weak_leg', 'the weakest leg (fewest stakeholders engaged or above, then lowest score), when it has stakeholders.',
    { leg: LegName, engaged_or_above: EngagedParam, engagement_score: Type.Number({ minimum: 0, maximum: 4 }) }),
  SuggestionOf('leg_without_leadership_member', 'a leg with stakeholders has none in the leadership group.', { leg: LegName }),
  SuggestionOf('no_tie_between_legs', 'two legs, each with stakeholders, have no tie between them.',
    { legs: Type.Array(LegName, { minItems: 2, maxItems: 2 }) }),
  SuggestionOf('no_meetings', 'no meeting was held in the attendance period.', { months: Int({ minimum: 1, maximum: 36 }) }),
  SuggestionOf('low_attendance', 'a leg with stakeholders came to none of the meetings of the attendance period.',
    { leg: LegName, months: Int({ minimum: 1, maximum: 36 }) }),
  SuggestionOf('single_broker', `one stakeholder holds more than ${SINGLE_BROKER_SHARE * 100} % of all betweenness: the network hangs on them.`,
    { stakeholder_id: Uuid(), name: Type.String({ maxLength: 200 }), leg: OrNull(LegName), share: Type.Number({ minimum: 0, maximum: 1 }) }),
  SuggestionOf('isolated_stakeholders', 'active stakeholders have no tie at all.', { count: Count('Isolated stakeholders.') })
], { description: 'A concrete suggestion, with a stable `code`, its `params` and an English `text`.' })

export const AssessmentSchema = Type.Object({
  as_of: DateOnly({ description: 'Today in the city\'s timezone: what "in the past" is judged by.' }),
  stakeholders: Count('Active stakeholders, with or without a leg.'),
  ties: Count('Ties between active stakeholders, with or without a leg.'),
  legs: Type.Array(LegSummary, { minItems: 4, maxItems: 4, description: `Per leg, in the order elected, city_staff, community, law_enforcement. Legs: ${LEGS_DEFINITION}.` }),
  without_leg: GroupSummary,
  leg_pairs: Type.Array(LegPair, { minItems: 10, maxItems: 10, description: 'Every pair of legs, a leg with itself included, in leg order.' }),
  weakest_leg: Type.Object({
    leg: LegName,
    engaged_or_above: EngagedParam,
    engagement_score: Ratio('Its mean engagement score; null without stakeholders.')
  }, { additionalProperties: false, description: 'The leg with the fewest stakeholders engaged or above, then the lowest engagement score (none counts lowest), then the first in leg order.' }),
  weakest_links: Type.Array(LegPair, { minItems: 6, maxItems: 6, description: 'Every pair of distinct legs, by ties ascending then mean strength ascending (pairs with no tie first), then leg order.' }),
  isolated_stakeholders: Type.Object({
    count: Count('Active stakeholders without any tie.'),
    items: Type.Array(Type.Object(StakeholderRef, { additionalProperties: false }), { maxItems: ISOLATED_LISTED, description: `By leg (no leg last), then name; at most ${ISOLATED_LISTED.toLocaleString('en-US')}.` })
  }, { additionalProperties: false, description: 'Active stakeholders with no tie at all.' }),
  components: Type.Object({
    count: Count('Connected components of the stakeholders with at least one tie.'),
    items: Type.Array(Component, { maxItems: COMPONENTS_LISTED, description: `Largest first; at most ${COMPONENTS_LISTED}.` })
  }, { additionalProperties: false, description: 'The groups of stakeholders that ties connect, directly or through others (isolated stakeholders are listed apart).' }),
  brokers: Type.Array(Broker, { maxItems: BROKERS_LISTED, description: `The ${BROKERS_LISTED} stakeholders with the highest betweenness centrality above zero, highest first: those through whom the others are connected.` }),
  suggestions: Type.Array(SuggestionSchema, { maxItems: 100 }),
  attendance: Type.Object({
    months: Int({ minimum: 1, maximum: 36 }),
    from: DateOnly({ description: 'First day of the period (inclusive).' }),
    to: DateOnly({ description: 'Last day of the period (inclusive): today in the city\'s timezone.' }),
    meetings_held: Count('Meetings held in the period.'),
    legs: Type.Array(Type.Object({ leg: LegName, ...LegAttendance.properties }, { additionalProperties: false }), { minItems: 4, maxItems: 4, description: 'Per leg, in leg order.' }),
    without_leg: LegAttendance
  }, { additionalProperties: false, description: 'Who came to the meetings held in the period, by leg. Only active stakeholders count.' })
}, {
  $id: 'StakeholderNetworkAssessment',
  additionalProperties: false,
  description: 'How the four legs of the stool stand and how they are tied together. Only active stakeholders, and ties without an `until` in the past, count.'
})

export type Assessment = Static<typeof AssessmentSchema>
export type Suggestion = Static<typeof SuggestionSchema>
export type AssessmentQueryString = Static<typeof AssessmentQuery>
