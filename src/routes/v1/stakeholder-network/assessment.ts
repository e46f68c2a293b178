import { ENGAGEMENT_LEVELS, LEGS } from '../../../db/schema/index.js'
import type { NetworkFigures, NetworkInput } from './network.js'
import type { AttendanceRows, NetworkStakeholder, Tie } from './repo.js'
import {
  BROKERS_LISTED, COMPONENT_IDS_LISTED, COMPONENTS_LISTED, DECIMALS, ENGAGEMENT_SCORE, ISOLATED_LISTED, SINGLE_BROKER_SHARE,
  type Assessment, type EngagementLevel, type Leg, type Suggestion
} from './schema.js'

type GroupSummary = Assessment['without_leg']
type LegPair = Assessment['leg_pairs'][number]
type LegAttendance = Assessment['attendance']['without_leg']

export interface AssessmentInput {
  /** Today in the city's timezone. */
  asOf: string
  stakeholders: NetworkStakeholder[]
  /** The ties networkOf kept. */
  ties: Tie[]
  network: NetworkFigures
  attendance: AttendanceRows & { months: number, from: string, to: string }
}

const LEG_LABELS: Record<Leg, string> = {
  elected: 'elected officials',
  city_staff: 'city staff',
  community: 'community organisations',
  law_enforcement: 'law enforcement'
}

const SCALE = 10 ** DECIMALS
const round = (value: number): number => Math.round(value * SCALE) / SCALE
const ratio = (numerator: number, denominator: number): number | null => denominator === 0 ? null : round(numerator / denominator)
const capitalised = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

/** Betweenness below this is rounding noise of the sums of fractions, not brokerage. */
const NOISE = 1e-12

/**
 * The first day of the attendance period: the day after the same date `months` months before `asOf` (a day
 * missing in the shorter month is its last day), so that the period from it to `asOf` is `months` months.
 */
export function periodStart (asOf: string, months: number): string {
  const [year, month, day] = asOf.split('-').map(Number) as [number, number, number]
  const index = year * 12 + (month - 1) - months
  const startYear = Math.floor(index / 12)
  const startMonth = index - startYear * 12
  const lastDay = new Date(Date.UTC(startYear, startMonth + 1, 0)).getUTCDate()
  const start = new Date(Date.UTC(startYear, startMonth, Math.min(day, lastDay) + 1))
  return start.toISOString().slice(0, 10)
}

function emptyGroup (): GroupSummary {
  const engagement = Object.fromEntries(ENGAGEMENT_LEVELS.map((level) => [level, 0])) as Record<EngagementLevel, number>
  return { stakeholders: 0, leadership_group_members: 0, engagement, engaged_or_above: 0, engagement_score: null }
}

/** Tallies each leg's (and the legless') stakeholders, leadership-group members and engagement. */
function summariseGroups (stakeholders: NetworkStakeholder[]): { legs: Map<Leg, GroupSummary>, withoutLeg: GroupSummary } {
  const legs = new Map(LEGS.map((leg) => [leg, emptyGroup()]))
  const withoutLeg = emptyGroup()
  const points = new Map<GroupSummary, number>()
  for (const s of stakeholders) {
    const group = (s.leg === null ? withoutLeg : legs.get(s.leg)) ?? withoutLeg
    group.stakeholders++
    if (s.in_leadership_group) group.leadership_group_members++
    group.engagement[s.engagement_level]++
    const score = ENGAGEMENT_SCORE[s.engagement_level]
    if (score >= ENGAGEMENT_SCORE.engaged) group.engaged_or_above++
    points.set(group, (points.get(group) ?? 0) + score)
  }
  for (const group of [...legs.values(), withoutLeg]) group.engagement_score = ratio(points.get(group) ?? 0, group.stakeholders)
  return { legs, withoutLeg }
}

/** Ties, mean strength and density of every pair of legs (a leg with itself included), in leg order. */
function legPairs (ties: Tie[], legOf: Map<string, Leg | null>, sizes: Map<Leg, number>): LegPair[] {
  const count = new Map<string, number>()
  const strength = new Map<string, number>()
  for (const tie of ties) {
    const a = legOf.get(tie.a)
    const b = legOf.get(tie.b)
    if (a === null || a === undefined || b === null || b === undefined) continue
    const key = LEGS.indexOf(a) <= LEGS.indexOf(b) ? `${a}|${b}` : `${b}|${a}`
    count.set(key, (count.get(key) ?? 0) + 1)
    strength.set(key, (strength.get(key) ?? 0) + tie.strength)
  }
  const pairs: LegPair[] = []
  for (let i = 0; i < LEGS.length; i++) {
    for (let j = i; j < LEGS.length; j++) {
      const a = LEGS[i] as Leg
      const b = LEGS[j] as Leg
      const ties = count.get(`${a}|${b}`) ?? 0
      const n = sizes.get(a) ?? 0
      const possible = a === b ? n * (n - 1) / 2 : n * (sizes.get(b) ?? 0)
      pairs.push({ legs: [a, b], ties, mean_strength: ratio(strength.get(`${a}|${b}`) ?? 0, ties), density: ratio(ties, possible) })
    }
  }
  return pairs
}

/** Fewest stakeholders engaged or above, then the lowest score (a leg without stakeholders lowest), then leg order. */
function weakestLeg (legs: Map<Leg, GroupSummary>): Assessment['weakest_leg'] {
  const ranked = LEGS.map((leg) => ({ leg, group: legs.get(leg) ?? emptyGroup() })).sort((x, y) =>
    x.group.engaged_or_above - y.group.engaged_or_above || (x.group.engagement_score ?? -1) - (y.group.engagement_score ?? -1))
  const { leg, group } = ranked[0] as { leg: Leg, group: GroupSummary }
  return { leg, engaged_or_above: group.engaged_or_above, engagement_score: group.engagement_score }
}

/** Pairs of distinct legs, by ties then mean strength (none first), then leg order (the sort is stable). */
function weakestLinks (pairs: LegPair[]): LegPair[] {
  return pairs.filter((p) => p.legs[0] !== p.legs[1])
    .sort((x, y) => x.ties - y.ties || (x.mean_strength ?? 0) - (y.mean_strength ?? 0))
}

/**
 * The network the graph computations run on: the active stakeholders numbered in the order given, and the
 * ties between two of them. The reads are separate statements, so a tie to a stakeholder archived between
 * them is left out.
 */
export function networkOf (stakeholders: NetworkStakeholder[], allTies: Tie[]): { input: NetworkInput, ties: Tie[] } {
  const index = new Map(stakeholders.map((s, i) => [s.id, i]))
  const ties = allTies.filter((t) => index.has(t.a) && index.has(t.b))
  const ends = new Int32Array(ties.length * 2)
  ties.forEach((t, i) => { ends[2 * i] = index.get(t.a) as number; ends[2 * i + 1] = index.get(t.b) as number })
  return { input: { order: stakeholders.length, ties: ends }, ties }
}

/** The brokers: betweenness above zero, highest first, with each one's share of the sum of all. */
function brokersOf (stakeholders: NetworkStakeholder[], centrality: Float64Array): Assessment['brokers'] {
  let total = 0
  for (const value of centrality) total += value
  const ranked: number[] = []
  centrality.forEach((value, i) => { if (value > NOISE) ranked.push(i) })
  const idOf = (i: number): string => (stakeholders[i] as NetworkStakeholder).id
  // By the rounded figure, so that equal betweenness up to floating-point noise is ordered by id.
  const shown = (i: number): number => round(centrality[i] as number)
  return ranked.sort((x, y) => shown(y) - shown(x) || (idOf(x) < idOf(y) ? -1 : 1))
    .slice(0, BROKERS_LISTED)
    .map((i) => {
      const { id, name, leg } = stakeholders[i] as NetworkStakeholder
      const value = centrality[i] as number
      return { id, name, leg, betweenness: round(value), share: round(value / total) }
    })
}

function attendanceOf (rows: AssessmentInput['attendance']): Assessment['attendance'] {
  const none = (): LegAttendance => ({ attendances: 0, attendees: 0, meetings_attended: 0 })
  const byLeg = new Map(rows.legs.map((r) => [r.leg, { attendances: r.attendances, attendees: r.attendees, meetings_attended: r.meetings_attended }]))
  return {
    months: rows.months,
    from: rows.from,
    to: rows.to,
    meetings_held: rows.meetingsHeld,
    legs: LEGS.map((leg) => ({ leg, ...(byLeg.get(leg) ?? none()) })),
    without_leg: byLeg.get(null) ?? none()
  }
}

interface SuggestionFacts {
  legs: Map<Leg, GroupSummary>
  weakest: Assessment['weakest_leg']
  pairs: LegPair[]
  attendance: Assessment['attendance']
  brokers: Assessment['brokers']
  isolatedCount: number
}

/**
 * What the city could do next, most basic first: a missing leg, the weakest leg, legs without a seat in the
 * leadership group, legs not tied to each other, meetings, a network that hangs on one broker, isolated
 * stakeholders. Suggestions about a leg are made only when the leg has stakeholders (otherwise the first
 * one covers it).
 */
function suggest ({ legs, weakest, pairs, attendance, brokers, isolatedCount }: SuggestionFacts): Suggestion[] {
  const out: Suggestion[] = []
  const present = (leg: Leg): boolean => (legs.get(leg)?.stakeholders ?? 0) > 0
  for (const leg of LEGS) {
    if (present(leg)) continue
    out.push({ code: 'leg_without_stakeholders', params: { leg }, text: `No active stakeholder represents ${LEG_LABELS[leg]}: identify and invite some, since a whole-of-city approach rests on all four legs.` })
  }
  if (present(weakest.leg) && weakest.engagement_score !== null) {
    const { leg, engaged_or_above: engaged, engagement_score: score } = weakest
    out.push({
      code: 'weak_leg',
      params: { leg, engaged_or_above: engaged, engagement_score: score },
      text: `${capitalised(LEG_LABELS[leg])} is the weakest leg: ${plural(engaged, 'stakeholder is', 'stakeholders are')} engaged or above, with a mean engagement of ${score.toFixed(2)} out of 4. Raise its awareness of its role and its engagement first.`
    })
  }
  for (const leg of LEGS) {
    if (!present(leg) || (legs.get(leg)?.leadership_group_members ?? 0) > 0) continue
    out.push({ code: 'leg_without_leadership_member', params: { leg }, text: `${capitalised(LEG_LABELS[leg])} has no seat in the leadership group: invite one of its stakeholders to join it.` })
  }
  for (const pair of pairs) {
    const [a, b] = pair.legs as [Leg, Leg]
    if (a === b || pair.ties > 0 || !present(a) || !present(b)) continue
    out.push({
      code: 'no_tie_between_legs',
      params: { legs: [a, b] },
      text: `No tie links ${LEG_LABELS[a]} and ${LEG_LABELS[b]}: bring them together, for example at a community dialogue or a joint training, to build trust between them.`
    })
  }
  const months = plural(attendance.months, 'month', 'months')
  if (attendance.meetings_held === 0) {
    out.push({ code: 'no_meetings', params: { months: attendance.months }, text: `No meeting was held in the last ${months}: convening has value in itself, so bring the leadership group and its partners together.` })
  } else {
    for (const row of attendance.legs) {
      if (!present(row.leg) || row.attendances > 0) continue
      out.push({ code: 'low_attendance', params: { leg: row.leg, months: attendance.months }, text: `Nobody from ${LEG_LABELS[row.leg]} came to the meetings of the last ${months}: invite them to the next one.` })
    }
  }
  const top = brokers[0]
  if (top !== undefined && top.share > SINGLE_BROKER_SHARE) {
    out.push({
      code: 'single_broker',
      params: { stakeholder_id: top.id, name: top.name, leg: top.leg, share: top.share },
      text: `${top.name} holds ${Math.round(top.share * 100)} % of the network's brokerage: most connections between the others run through them. Build direct ties around them so that the network holds without them.`
    })
  }
  if (isolatedCount > 0) {
    out.push({
      code: 'isolated_stakeholders',
      params: { count: isolatedCount },
      text: `${plural(isolatedCount, 'active stakeholder has', 'active stakeholders have')} no tie to anyone: introduce them to the others, for example through the leadership group or a workshop.`
    })
  }
  return out
}

const legOrder = (leg: Leg | null): number => leg === null ? LEGS.length : LEGS.indexOf(leg)

/**
 * The assessment of the four-legged stool from the city's active stakeholders, the ties between them (as
 * networkOf kept them), the figures of their network, and attendance.
 */
export function assess ({ asOf, stakeholders, ties, network, attendance: attendanceRows }: AssessmentInput): Assessment {
  const { legs, withoutLeg } = summariseGroups(stakeholders)
  const legOf = new Map(stakeholders.map((s) => [s.id, s.leg]))
  const sizes = new Map(LEGS.map((leg) => [leg, legs.get(leg)?.stakeholders ?? 0]))
  const pairs = legPairs(ties, legOf, sizes)
  const weakest = weakestLeg(legs)
  const brokers = brokersOf(stakeholders, network.betweenness)
  const attendance = attendanceOf(attendanceRows)
  const at = (i: number): NetworkStakeholder => stakeholders[i] as NetworkStakeholder
  const isolated = network.isolated.map(at)
    .sort((x, y) => legOrder(x.leg) - legOrder(y.leg) || x.name.localeCompare(y.name, 'en') || (x.id < y.id ? -1 : 1))
  const components = network.components.map((members) => members.map((i) => at(i).id).sort())
    .sort((x, y) => y.length - x.length || ((x[0] ?? '') < (y[0] ?? '') ? -1 : 1))

  return {
    as_of: asOf,
    stakeholders: stakeholders.length,
    ties: ties.length,
    legs: LEGS.map((leg) => ({ leg, ...(legs.get(leg) ?? emptyGroup()) })),
    without_leg: withoutLeg,
    leg_pairs: pairs,
    weakest_leg: weakest,
    weakest_links: weakestLinks(pairs),
    isolated_stakeholders: { count: isolated.length, items: isolated.slice(0, ISOLATED_LISTED).map(({ id, name, leg }) => ({ id, name, leg })) },
    components: {
      count: components.length,
      items: components.slice(0, COMPONENTS_LISTED).map((ids) => {
        const spanned = new Set(ids.map((id) => legOf.get(id)))
        return { size: ids.length, legs: LEGS.filter((leg) => spanned.has(leg)), stakeholder_ids: ids.slice(0, COMPONENT_IDS_LISTED) }
      })
    },
    brokers,
    suggestions: suggest({ legs, weakest, pairs, attendance, brokers, isolatedCount: isolated.length }),
    attendance
  }
}
