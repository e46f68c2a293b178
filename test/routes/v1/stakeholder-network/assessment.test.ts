import t from 'tap'
import { STAKEHOLDER_CATEGORIES, type stakeholders } from '../../../../src/db/schema/index.js'
import { today } from '../../../../src/lib/dates.js'
import { periodStart } from '../../../../src/routes/v1/stakeholder-network/assessment.js'
import { LEG_CATEGORIES } from '../../../../src/routes/v1/stakeholder-network/schema.js'
import { makeCityWithKey, makeKey, makeStakeholder } from '../../../factories.js'
import { bearer, build, countStatements, expectProblem } from '../../../helper.js'
import { addDays, makeMeeting, makeRelationship } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db
const TIMEZONE = 'America/New_York' // the timezone of a city made by the factories

type Overrides = Partial<typeof stakeholders.$inferInsert>

async function assessment (key: string, query = ''): Promise<any> {
  const res = await app.inject({ method: 'GET', url: `/v1/stakeholder-network/assessment${query}`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(`assessment answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

/**
 * The small network the figures are computed on by hand. Fourteen active stakeholders:
 *
 *   elected          E1 (leading)  E2 (aware)
 *   city_staff       C1 (active, chair)  C2 (human_rights_commission, engaged; left the leadership group in 2020)
 *   community        M1 (community_organization, engaged, co_chair)  M2 (faith_community, active)  M3 (youth, identified)
 *                    M4 (academia, engaged)  I1 (media, aware)
 *   law_enforcement  L1 (aware, observer until 2999)  L2 (identified)
 *   no leg           F1 (federal_partner, engaged)  F2 (federal_partner, aware)  O1 (other, identified)
 *   inactive         X1 (community_organization, leading, chair): never counted, nor its ties or attendance.
 *
 * Ties that count (12), as drawn, with their strength:
 *
 *        E1 ─4─ E2
 *          \5  /2                 M2
 *           \ /                  /5
 *   C2 ─4─── C1 ───4─── M1 ─3─ M3          M4 ─3─ F2
 *           / \                  \2
 *         3/   \1                 F1
 *         L1 ─2─ L2
 *
 * C1–E1 is two relationships (C1→E1 collaboration 3, E1→C1 trust 5): one tie of strength 5, in either direction.
 * C1–L2 ends in 2999 and L1–L2 ends today: both still count. M4–F2 is also a funding relationship of strength 5
 * that ended in 2001: the tie keeps strength 3. Left out: M1–I1 (ended 2001), L1–M3 (ended yesterday) and every
 * tie of X1 (inactive), so I1 and O1 are isolated and no tie joins community and law enforcement.
 */
async function makeNetwork (cityId: string) {
  const s = async (name: string, category: typeof STAKEHOLDER_CATEGORIES[number], engagementLevel: string, extra: Overrides = {}) =>
    (await makeStakeholder(db, cityId, { name, category, engagementLevel, ...extra })).id
  const asOf = today(TIMEZONE)
  const ids = {
    E1: await s('E1', 'elected_official', 'leading'),
    E2: await s('E2', 'elected_official', 'aware'),
    C1: await s('C1', 'city_staff', 'active', { leadershipRole: 'chair', leadershipJoinedOn: '2023-01-01' }),
    C2: await s('C2', 'human_rights_commission', 'engaged', { leadershipRole: 'member', leadershipJoinedOn: '2019-01-01', leadershipLeftOn: '2020-01-01' }),
    M1: await s('M1', 'community_organization', 'engaged', { leadershipRole: 'co_chair' }),
    M2: await s('M2', 'faith_community', 'active'),
    M3: await s('M3', 'youth', 'identified'),
    M4: await s('M4', 'academia', 'engaged'),
    I1: await s('I1', 'media', 'aware'),
    L1: await s('L1', 'law_enforcement', 'aware', { leadershipRole: 'observer', leadershipLeftOn: '2999-12-31' }),
    L2: await s('L2', 'law_enforcement', 'identified'),
    F1: await s('F1', 'federal_partner', 'engaged'),
    F2: await s('F2', 'federal_partner', 'aware'),
    O1: await s('O1', 'other', 'identified'),
    X1: await s('X1', 'community_organization', 'leading', { leadershipRole: 'chair', active: false })
  }
  const tie = async (a: keyof typeof ids, b: keyof typeof ids, strength: number, options: { type?: 'collaboration' | 'trust' | 'referral' | 'funding' | 'communication', until?: string } = {}) =>
    await makeRelationship(db, cityId, ids[a], ids[b], { strength, ...options })
  await tie('C1', 'E1', 3, { type: 'collaboration' })
  await tie('E1', 'C1', 5, { type: 'trust' })
  await tie('C1', 'E2', 2)
  await tie('E1', 'E2', 4, { type: 'communication' })
  await tie('C1', 'C2', 4)
  await tie('C1', 'M1', 4, { type: 'referral' })
  await tie('C1', 'L1', 3)
  await tie('L2', 'C1', 1, { until: '2999-12-31' })
  await tie('L1', 'L2', 2, { until: asOf })
  await tie('M1', 'M2', 5, { type: 'trust' })
  await tie('M1', 'M3', 3)
  await tie('M1', 'F1', 2, { type: 'funding' })
  await tie('M4', 'F2', 3, { type: 'communication' })
  await tie('M4', 'F2', 5, { type: 'funding', until: '2001-01-01' })
  await tie('M1', 'I1', 4, { type: 'trust', until: '2001-01-01' })
  await tie('L1', 'M3', 5, { until: addDays(asOf, -1) })
  await tie('X1', 'L1', 5)
  await tie('X1', 'M2', 5)
  await tie('X1', 'I1', 5)

  // Meetings around the six-month period (from = periodStart(today, 6), to = today):
  const from = periodStart(asOf, 6)
  await makeMeeting(db, cityId, addDays(asOf, -10), [ids.E1, ids.C1, ids.M1, ids.X1, ids.F1])
  await makeMeeting(db, cityId, addDays(asOf, -40), [ids.C1, ids.M2, ids.M3])
  await makeMeeting(db, cityId, from, [ids.C2]) // the first day of the period counts
  await makeMeeting(db, cityId, addDays(from, -1), [ids.L2]) // the day before does not (within 36 months it does)
  await makeMeeting(db, cityId, addDays(asOf, -400), [ids.L1]) // within 36 months only
  await makeMeeting(db, cityId, addDays(asOf, 5), [ids.L2]) // not held yet
  return { ids, asOf, from }
}

const ENGAGEMENT = (identified: number, aware: number, engaged: number, active: number, leading: number) => ({ identified, aware, engaged, active, leading })

t.test('the assessment of a hand-computed network: legs, pairs, weakest leg and links, isolated, components, brokers, suggestions', async (t) => {
  const city = await makeCityWithKey(db)
  // Another city's network, with a tie between community and law enforcement and a leading elected official:
  // none of it may appear in the first city's figures.
  const other = await makeCityWithKey(db)
  const otherPolice = await makeStakeholder(db, other.id, { name: 'Other police', category: 'law_enforcement', engagementLevel: 'leading', leadershipRole: 'member' })
  const otherGroup = await makeStakeholder(db, other.id, { name: 'Other group', category: 'community_organization', engagementLevel: 'leading' })
  const otherMayor = await makeStakeholder(db, other.id, { name: 'Other mayor', category: 'elected_official', engagementLevel: 'leading' })
  await makeRelationship(db, other.id, otherPolice.id, otherGroup.id, { strength: 5 })
  await makeRelationship(db, other.id, otherMayor.id, otherGroup.id, { strength: 5 })
  await makeMeeting(db, other.id, addDays(today(TIMEZONE), -3), [otherPolice.id, otherGroup.id, otherMayor.id])

  const { ids, asOf, from } = await makeNetwork(city.id)
  const reader = await makeKey(db, city.id, ['stakeholders:read'])
  const body = await assessment(reader.key)

  t.equal(body.as_of, asOf, 'as of today in the city\'s timezone')
  t.equal(body.stakeholders, 14, 'the 14 active stakeholders (X1 is archived)')
  t.equal(body.ties, 12, 'two relationships C1–E1 make one tie; ended ties and X1\'s are left out')

  // Engagement score: the mean of identified 0, aware 1, engaged 2, active 3, leading 4.
  t.same(body.legs, [
    // E1 leading 4 + E2 aware 1 = 5 / 2 = 2.5; engaged or above: E1. Nobody in the leadership group.
    { leg: 'elected', stakeholders: 2, leadership_group_members: 0, engagement: ENGAGEMENT(0, 1, 0, 0, 1), engaged_or_above: 1, engagement_score: 2.5 },
    // C1 active 3 + C2 engaged 2 = 5 / 2 = 2.5; C2 left the leadership group in 2020: only C1 counts.
    { leg: 'city_staff', stakeholders: 2, leadership_group_members: 1, engagement: ENGAGEMENT(0, 0, 1, 1, 0), engaged_or_above: 2, engagement_score: 2.5 },
    // M1 2 + M2 3 + M3 0 + M4 2 + I1 1 = 8 / 5 = 1.6 (X1, leading and chair, is archived and not counted).
    { leg: 'community', stakeholders: 5, leadership_group_members: 1, engagement: ENGAGEMENT(1, 1, 2, 1, 0), engaged_or_above: 3, engagement_score: 1.6 },
    // L1 1 + L2 0 = 0.5; L1's observer seat ends in 2999: a member.
    { leg: 'law_enforcement', stakeholders: 2, leadership_group_members: 1, engagement: ENGAGEMENT(1, 1, 0, 0, 0), engaged_or_above: 0, engagement_score: 0.5 }
  ], 'each leg')
  // F1 2 + F2 1 + O1 0 = 3 / 3 = 1: federal partners and "other" are listed apart, in no leg.
  t.same(body.without_leg, { stakeholders: 3, leadership_group_members: 0, engagement: ENGAGEMENT(1, 1, 1, 0, 0), engaged_or_above: 1, engagement_score: 1 }, 'no leg, apart')

  // Density between legs: ties ÷ (|A| × |B|); within a leg of n: ties ÷ n(n−1)/2.
  t.same(body.leg_pairs, [
    { legs: ['elected', 'elected'], ties: 1, mean_strength: 4, density: 1 }, // E1–E2 of 2·1/2 = 1 possible
    { legs: ['elected', 'city_staff'], ties: 2, mean_strength: 3.5, density: 0.5 }, // C1–E1 5 (highest of 3 and 5), C1–E2 2; 2 of 2·2
    { legs: ['elected', 'community'], ties: 0, mean_strength: null, density: 0 }, // 0 of 2·5
    { legs: ['elected', 'law_enforcement'], ties: 0, mean_strength: null, density: 0 }, // 0 of 2·2
    { legs: ['city_staff', 'city_staff'], ties: 1, mean_strength: 4, density: 1 }, // C1–C2 of 1
    { legs: ['city_staff', 'community'], ties: 1, mean_strength: 4, density: 0.1 }, // C1–M1 of 2·5 = 10
    { legs: ['city_staff', 'law_enforcement'], ties: 2, mean_strength: 2, density: 0.5 }, // C1–L1 3, C1–L2 1; 2 of 4
    { legs: ['community', 'community'], ties: 2, mean_strength: 4, density: 0.2 }, // M1–M2 5, M1–M3 3; 2 of 5·4/2 = 10
    { legs: ['community', 'law_enforcement'], ties: 0, mean_strength: null, density: 0 }, // L1–M3 ended yesterday; X1 archived
    { legs: ['law_enforcement', 'law_enforcement'], ties: 1, mean_strength: 2, density: 1 } // L1–L2 ends today: counts
  ], 'every pair of legs')

  // Fewest engaged or above: law enforcement (0), then elected (1).
  t.same(body.weakest_leg, { leg: 'law_enforcement', engaged_or_above: 0, engagement_score: 0.5 }, 'the weakest leg')
  // By ties ascending, then mean strength ascending, then leg order: the three pairs without a tie first.
  t.same(body.weakest_links.map((p: any) => p.legs), [
    ['elected', 'community'], ['elected', 'law_enforcement'], ['community', 'law_enforcement'],
    ['city_staff', 'community'], // 1 tie
    ['city_staff', 'law_enforcement'], // 2 ties, mean 2
    ['elected', 'city_staff'] // 2 ties, mean 3.5
  ], 'the weakest links')

  t.same(body.isolated_stakeholders, {
    count: 2,
    items: [{ id: ids.I1, name: 'I1', leg: 'community' }, { id: ids.O1, name: 'O1', leg: null }]
  }, 'I1 (its only current tie is to archived X1) and O1, by leg with no leg last')

  const sorted = (names: Array<keyof typeof ids>) => names.map((n) => ids[n]).sort()
  t.same(body.components, {
    count: 2,
    items: [
      { size: 10, legs: ['elected', 'city_staff', 'community', 'law_enforcement'], stakeholder_ids: sorted(['E1', 'E2', 'C1', 'C2', 'M1', 'M2', 'M3', 'L1', 'L2', 'F1']) },
      { size: 2, legs: ['community'], stakeholder_ids: sorted(['M4', 'F2']) }
    ]
  }, 'two components, largest first')

  // Betweenness: every shortest path between C1's branches {E1,E2}, {C2}, {M1,M2,M3,F1}, {L1,L2} runs through C1:
  // of the 9 others, (9² − (2² + 1² + 4² + 2²)) / 2 = (81 − 25) / 2 = 28 pairs. M1 separates {M2}, {M3}, {F1} and
  // the 6 others: (81 − 1 − 1 − 1 − 36) / 2 = 21 pairs. No one else lies on a shortest path (E1–E2 and L1–L2 are
  // tied directly). Normalised over the pairs of the 13 others of the 14 active stakeholders, 13·12/2 = 78:
  // C1 28/78 = 0.358974, M1 21/78 = 0.269231; shares of 28 + 21 = 49: C1 4/7 = 0.571429, M1 3/7 = 0.428571.
  t.same(body.brokers, [
    { id: ids.C1, name: 'C1', leg: 'city_staff', betweenness: 0.358974, share: 0.571429 },
    { id: ids.M1, name: 'M1', leg: 'community', betweenness: 0.269231, share: 0.428571 }
  ], 'the brokers, C1 first')

  // From the first day of the period to today: the meetings of today−10, today−40 and the first day.
  t.same(body.attendance, {
    months: 6,
    from,
    to: asOf,
    meetings_held: 3,
    legs: [
      { leg: 'elected', attendances: 1, attendees: 1, meetings_attended: 1 }, // E1
      { leg: 'city_staff', attendances: 3, attendees: 2, meetings_attended: 3 }, // C1 twice, C2 on the first day
      { leg: 'community', attendances: 3, attendees: 3, meetings_attended: 2 }, // M1; M2 and M3 (X1 archived)
      { leg: 'law_enforcement', attendances: 0, attendees: 0, meetings_attended: 0 } // L2 the day before, L1 400 days ago
    ],
    without_leg: { attendances: 1, attendees: 1, meetings_attended: 1 } // F1
  }, 'attendance by leg over six months')

  t.same(body.suggestions.map((s: any) => [s.code, s.params]), [
    ['weak_leg', { leg: 'law_enforcement', engaged_or_above: 0, engagement_score: 0.5 }],
    ['leg_without_leadership_member', { leg: 'elected' }],
    ['no_tie_between_legs', { legs: ['elected', 'community'] }],
    ['no_tie_between_legs', { legs: ['elected', 'law_enforcement'] }],
    ['no_tie_between_legs', { legs: ['community', 'law_enforcement'] }],
    ['low_attendance', { leg: 'law_enforcement', months: 6 }],
    // C1's share, 4/7, is above one half.
    ['single_broker', { stakeholder_id: ids.C1, name: 'C1', leg: 'city_staff', share: 0.571429 }],
    ['isolated_stakeholders', { count: 2 }]
  ], 'the suggestions, with their codes and params')
  for (const s of body.suggestions) t.match(s.text, /^[A-Z0-9].{20,}[.]$/, `${s.code} has an English text`)
  t.match(body.suggestions.find((s: any) => s.code === 'no_tie_between_legs').text, /elected officials and community organisations/)
  t.match(body.suggestions.find((s: any) => s.code === 'single_broker').text, /^C1 holds 57 %/)

  const longer = await assessment(reader.key, '?attendance_months=36')
  t.equal(longer.attendance.meetings_held, 5, 'within 36 months: two more meetings (the one not held yet never counts)')
  t.same(longer.attendance.legs[3], { leg: 'law_enforcement', attendances: 2, attendees: 2, meetings_attended: 2 })
  t.notOk(longer.suggestions.some((s: any) => s.code === 'low_attendance'), 'no low attendance within 36 months')
  t.same({ ...longer, attendance: null, suggestions: null }, { ...body, attendance: null, suggestions: null }, 'the period changes attendance only')

  const theirs = await assessment(other.key)
  t.equal(theirs.stakeholders, 3, 'the other city sees its own three stakeholders only')
  t.same(theirs.leg_pairs.find((p: any) => p.legs[0] === 'community' && p.legs[1] === 'law_enforcement').ties, 1)
  t.equal(theirs.attendance.meetings_held, 1)
})

t.test('each category counts in its leg; federal partners and "other" in none', async (t) => {
  const city = await makeCityWithKey(db)
  for (const category of STAKEHOLDER_CATEGORIES) await makeStakeholder(db, city.id, { name: category, category })
  const body = await assessment(city.key)
  t.same(body.legs.map((l: any) => [l.leg, l.stakeholders]), Object.entries(LEG_CATEGORIES).map(([leg, categories]) => [leg, categories.length]),
    'the legs the spec documents are the ones the database derives')
  t.same(body.legs.map((l: any) => l.stakeholders), [1, 2, 9, 1])
  t.equal(body.without_leg.stakeholders, 2)
  t.same(body.isolated_stakeholders.items.slice(-2).map((s: any) => [s.name, s.leg]), [['federal_partner', null], ['other', null]])
})

t.test('a city without stakeholders or meetings: zeros, nulls, and the suggestions to start', async (t) => {
  const city = await makeCityWithKey(db)
  const body = await assessment(city.key, '?attendance_months=1')
  t.equal(body.stakeholders, 0)
  t.ok(body.legs.every((l: any) => l.stakeholders === 0 && l.engagement_score === null))
  t.ok(body.leg_pairs.every((p: any) => p.ties === 0 && p.mean_strength === null && p.density === null), 'no tie possible: density null')
  t.same(body.weakest_leg, { leg: 'elected', engaged_or_above: 0, engagement_score: null }, 'all equal: the first leg')
  t.same(body.isolated_stakeholders, { count: 0, items: [] })
  t.same(body.components, { count: 0, items: [] })
  t.same(body.brokers, [])
  t.same(body.suggestions.map((s: any) => [s.code, s.params]), [
    ['leg_without_stakeholders', { leg: 'elected' }],
    ['leg_without_stakeholders', { leg: 'city_staff' }],
    ['leg_without_stakeholders', { leg: 'community' }],
    ['leg_without_stakeholders', { leg: 'law_enforcement' }],
    ['no_meetings', { months: 1 }]
  ])
  t.match(body.suggestions[4].text, /last 1 month:/)
})

t.test('the reads are set-based: three statements whatever the size of the network', async (t) => {
  const city = await makeCityWithKey(db)
  const statements = countStatements(database, /\b(stakeholders|stakeholder_relationships|meetings|meeting_attendees)\b/)
  await assessment(city.key)
  const empty = statements.count()
  await makeNetwork(city.id)
  const before = statements.count()
  await assessment(city.key)
  t.equal(empty, 3, 'an empty city: one statement each for stakeholders, ties and attendance')
  t.equal(statements.count() - before, 3, 'fifteen stakeholders: still three')
})

t.test('the attendance period is N months back to today, from the day after', async (t) => {
  t.equal(periodStart('2025-05-15', 6), '2024-11-16')
  t.equal(periodStart('2025-01-10', 6), '2024-07-11', 'across a year')
  t.equal(periodStart('2025-08-31', 6), '2025-03-01', 'February has no 31st: from the day after its last')
  t.equal(periodStart('2024-03-31', 1), '2024-03-01', 'leap year')
  t.equal(periodStart('2025-12-31', 36), '2023-01-01')
})

t.test('attendance_months is bounded 1-36', async (t) => {
  const city = await makeCityWithKey(db)
  for (const value of ['0', '37', 'six', '1.5']) {
    const res = await app.inject({ method: 'GET', url: `/v1/stakeholder-network/assessment?attendance_months=${value}`, headers: bearer(city.key) })
    expectProblem(t, res, 400, 'validation_failed', `attendance_months=${value}`)
  }
  const res = await app.inject({ method: 'GET', url: '/v1/stakeholder-network/assessment?months=6', headers: bearer(city.key) })
  expectProblem(t, res, 400, 'validation_failed', 'an unknown parameter')
})
