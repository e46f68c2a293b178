// Benchmark data, shared by every scenario: a fleet of cities, each with a few API keys, written through the
// app's own repositories so that rows look exactly like the ones the API creates; the named seeds scenarios
// ask for (SEEDS: incidents in two cities, a stakeholder network in one, set-based SQL); and the reports the
// ingest sends. The fixtures object carries what the scenarios need.
import { randomBytes } from 'node:crypto'
import { v7 } from 'uuid'
import { createApiKey } from '../dist/routes/v1/api-keys/repo.js'
import { createCity } from '../dist/routes/v1/city/repo.js'
import { BIAS_MOTIVATIONS, biasCategoriesOf, TAXONOMY_VERSION } from '../dist/taxonomies/index.js'

const STATES = ['CA', 'TX', 'NY', 'FL', 'IL', 'PA', 'OH', 'GA', 'NC', 'MI', 'WA', 'MA', 'MN', 'OR', 'CO']
const TIMEZONES = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles']

/** The keys every city gets: an admin, a read-only analyst, and a partner limited to its own source. */
const KEY_TEMPLATES = [
  { name: 'Admin key', scopes: ['admin'] },
  { name: 'Analyst key', scopes: ['incidents:read', 'kpis:read', 'exports:read'] },
  { name: 'Community partner key', scopes: ['incidents:write'], sources: ['partner'] },
  { name: 'Survey portal key', scopes: ['survey-responses:write'] }
]

/** A small deterministic PRNG (mulberry32), so two runs generate the same shape of data. */
export function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Creates `cities` cities with `keysPerCity` keys each (at most KEY_TEMPLATES.length) in one transaction.
 * Returns the fixtures the scenarios use: one city (in the middle of the id range, so its index entries are
 * nowhere special) with the plaintext of its admin key. Every other key's secret is thrown away.
 */
export async function seed (db, { cities = 200, keysPerCity = 3, seed: seedValue = 42 } = {}) {
  const random = prng(seedValue)
  const chosen = Math.floor(cities / 2)
  let fixture = null
  let keyCount = 0
  await db.transaction(async (tx) => {
    for (let i = 0; i < cities; i++) {
      const city = await createCity(tx, {
        slug: `bench-city-${String(i).padStart(4, '0')}`,
        name: `Bench City ${i}`,
        state: STATES[Math.floor(random() * STATES.length)],
        population: 20_000 + Math.floor(random() * 2_000_000),
        timezone: TIMEZONES[Math.floor(random() * TIMEZONES.length)]
      })
      for (const template of KEY_TEMPLATES.slice(0, Math.max(1, keysPerCity))) {
        const { key } = await createApiKey(tx, city.id, template)
        keyCount++
        if (i === chosen && template.scopes.includes('admin')) fixture = { cityId: city.id, citySlug: city.slug, cityTimezone: city.timezone, adminKey: key }
      }
      // The incident scenarios use the chosen city (Cohesion's ingest, the list) and the next one (the floor's ingest).
      if (i === chosen + 1 && fixture !== null) fixture.floorCity = { id: city.id, slug: city.slug, timezone: city.timezone }
    }
  })
  if (fixture === null) throw new Error('seed: no admin key kept')
  return { ...fixture, cities, keys: keyCount }
}

// ---------------------------------------------------------------------------------------------------------
// Incidents
// ---------------------------------------------------------------------------------------------------------
/** Reports occur in these six years; the list scenario asks for one quarter of them by default. */
export const OCCURRED_FROM = '2020-01-01'
export const OCCURRED_DAYS = 2192 // through 2025-12-31

/**
 * Relative frequency of each bias motivation code, roughly the shape of the FBI's hate-crime statistics
 * (anti-Black first; anti-Jewish, anti-gay, anti-Asian, anti-Hispanic next) with a long tail.
 * 88 (none) and 99 (unknown) are drawn apart: they stand alone.
 */
const CODE_WEIGHTS = ('12:25 21:12 14:10 41:9 32:7 11:5 71:4 24:3 43:3 15:3 42:2 31:2 13:2 62:1 22:1 26:1 33:1 44:1 72:1 51:1 52:1 25:1 ' +
  '16:1 85:1 84:1 83:1 82:1 81:1 61:1 45:1 29:1 28:1 27:1 23:1').split(' ').map((pair) => pair.split(':'))
const WEIGHTED_CODES = CODE_WEIGHTS.flatMap(([code, weight]) => Array(Number(weight)).fill(code))
if (WEIGHTED_CODES.some((c) => !BIAS_MOTIVATIONS.codes.some((t) => t.code === c))) throw new Error('data.js: a weighted bias code is not in the taxonomy')

const NEIGHBORHOODS = ['Downtown', 'Old Town', 'Riverside', 'Chinatown', 'Little Saigon', 'Eastside', 'Westlake', 'University District',
  'Harbor', 'Mission Flats', 'North End', 'South Park', 'Hillcrest', 'Lakeview', 'Fairmount', 'Brookside', 'Midtown', 'Ironbound',
  'Greenwood', 'Pleasant Hill', 'Cedar Heights', 'Mill Creek', 'Union Square', 'Bayview', 'Sunnyside', 'Oak Grove', 'Kensington',
  'Five Points', 'Northgate', 'Southgate']
const LOCATIONS = ['13', '13', '13', '13', '20', '20', '20', '04', '04', '50', '11', '22', '52', '53', '54', '57', '25']
const PLATFORMS = ['Instagram', 'Facebook', 'X', 'TikTok', 'Discord', 'Reddit', 'YouTube', 'Nextdoor']
const LANGUAGES = ['en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'es', 'es', 'zh', 'vi', 'ko', 'tl', 'ar']
const OFFENSES = ['13C', '13C', '13B', '13B', '290', '290', '13A', '120', '90Z']
const SUMMARIES = [
  'Verbal harassment with slurs directed at the victim while waiting at a bus stop.',
  'Graffiti with hate symbols painted on the wall of a place of worship overnight.',
  'Group of teenagers shouted slurs and threw objects at a family walking home.',
  'Flyers with antisemitic conspiracy content left on car windshields in a parking lot.',
  'Victim was pushed and told to go back to their country by a stranger on the sidewalk.',
  'Swastika scratched into the door of an apartment; the resident found it in the morning.',
  'Online threats posted under a community group post announcing a cultural festival.',
  'Store owner received repeated phone calls with slurs after a news story about the shop.',
  'Pride flag torn down and burned in front of a residence; neighbors saw two people leaving.',
  'Student reports being followed and mocked for wearing a hijab on the way to class.',
  'Customer refused service and insulted because of their accent at a gas station.',
  'Eggs thrown at the windows of a community center during an evening event.'
]
const NARRATIVE_SENTENCES = [
  'I was walking home from work around dinner time when a man started yelling at me.',
  'He used a slur and said people like me are ruining the neighborhood.',
  'My neighbor saw it happen and came out to help, and the man walked away toward the park.',
  'I did not call the police at the time because I was scared and wanted to get inside.',
  'This is the third time something like this happened near our building this year.',
  'My children were with me and they are still afraid to walk to school alone.',
  'The person was wearing a dark jacket and a cap, maybe in his thirties.',
  'We found the writing on our door the next morning and took pictures of it.',
  'I would like someone from the city to contact me about support for my family.',
  'The messages kept coming for two days from accounts I do not know.'
]
const FIRST = ['Maria', 'Wei', 'Aisha', 'James', 'Nguyen', 'Fatima', 'David', 'Sofia', 'Jamal', 'Mei', 'Carlos', 'Leah', 'Omar', 'Grace', 'Ravi', 'Hannah']
const LAST = ['Garcia', 'Chen', 'Khan', 'Johnson', 'Tran', 'Ali', 'Cohen', 'Lopez', 'Williams', 'Kim', 'Martinez', 'Levy', 'Hassan', 'Park', 'Patel', 'Brown']
const VICTIM_TYPES = ['individual', 'individual', 'individual', 'individual', 'business', 'religious_organization', 'society', 'other']
const ROLES = ['victim', 'victim', 'victim', 'witness', 'organization', 'other']

/** 1 to 3 distinct codes by frequency (80 % one, 15 % two, 5 % three); 4 % are 99 alone and 1 % 88 alone. */
function biasCombo (random) {
  const r = random()
  if (r < 0.04) return ['99']
  if (r < 0.05) return ['88']
  const count = r < 0.81 ? 1 : r < 0.96 ? 2 : 3
  const codes = []
  while (codes.length < count) {
    const code = WEIGHTED_CODES[Math.floor(random() * WEIGHTED_CODES.length)]
    if (!codes.includes(code)) codes.push(code)
  }
  return codes
}

const pick = (random, list) => list[Math.floor(random() * list.length)]
const pad = (n, width = 2) => String(n).padStart(width, '0')

function dayOf (offset) {
  return new Date(Date.parse(OCCURRED_FROM + 'T00:00:00Z') + offset * 86_400_000).toISOString().slice(0, 10)
}

/**
 * Reports as NGOs send them in a backfill: source ngo-<n>, a unique external_id, 1-3 bias codes, a date over
 * six years (with the time for 60 %), a neighbourhood, a summary, and for a share `personalShare` of them the
 * personal fields (narrative, reporter, address, coordinates). Deterministic for a seed.
 */
export function makeReports ({ count, prefix, personalShare = 0.3, seed: seedValue = 7 }) {
  const random = prng(seedValue)
  const reports = new Array(count)
  for (let n = 0; n < count; n++) {
    const type = random() < 0.45 ? 'hate_crime' : random() < 0.85 ? 'bias_incident' : 'undetermined'
    const online = random() < 0.1
    const day = dayOf(Math.floor(random() * OCCURRED_DAYS))
    const withTime = random() < 0.6
    const occurredAt = withTime ? `${day}T${pad(Math.floor(random() * 24))}:${pad(Math.floor(random() * 60))}:00Z` : null
    const reportedAt = new Date(Date.parse(day + 'T12:00:00Z') + Math.floor(random() * 20 * 86_400_000)).toISOString()
    const report = {
      source: `ngo-${1 + Math.floor(random() * 24)}`,
      external_id: `${prefix}-${n}`,
      incident_type: type,
      bias_motivations: biasCombo(random),
      ...(type === 'hate_crime' ? { offense_types: [pick(random, OFFENSES)] } : {}),
      ...(withTime ? { occurred_at: occurredAt } : { occurred_on: day }),
      reported_at: reportedAt,
      language: pick(random, LANGUAGES),
      location: online
        ? { location_type: '58' }
        : { location_type: pick(random, LOCATIONS), neighborhood: pick(random, NEIGHBORHOODS), ...(random() < 0.5 ? { census_tract: `${1000 + Math.floor(random() * 400)}.0${Math.floor(random() * 3)}` } : {}) },
      ...(online ? { online: { is_online: true, platform: pick(random, PLATFORMS) } } : {}),
      summary: pick(random, SUMMARIES),
      victim: { count: 1 + Math.floor(random() * 3), type: pick(random, VICTIM_TYPES) },
      consent: { contact_ok: random() < 0.5, share_with_law_enforcement: random() < 0.3, include_in_statistics: random() < 0.95 }
    }
    if (random() < personalShare) {
      const first = pick(random, FIRST)
      const last = pick(random, LAST)
      const sentences = 2 + Math.floor(random() * 4)
      report.narrative = Array.from({ length: sentences }, () => pick(random, NARRATIVE_SENTENCES)).join(' ')
      report.reporter = { name: `${first} ${last}`, email: `${first}.${last}${n}@example.org`.toLowerCase(), phone: `+1 555 01${pad(Math.floor(random() * 100))} ${pad(n % 10000, 4)}`, role: pick(random, ROLES) }
      if (!online) {
        report.location.address = `${1 + Math.floor(random() * 9999)} ${pick(random, LAST)} Street`
        report.location.latitude = Math.round((37.70 + random() * 0.12) * 1e6) / 1e6
        report.location.longitude = Math.round((-122.51 + random() * 0.14) * 1e6) / 1e6
      }
    }
    reports[n] = report
  }
  return reports
}

/** The columns the floor inserts, in order: every column Cohesion's own INSERT names. */
export const FLOOR_COLUMNS = ['city_id', 'id', 'source', 'external_id', 'incident_type', 'bias_motivations', 'bias_categories', 'offense_types',
  'taxonomy_version', 'occurred_on', 'occurred_at', 'reported_at', 'language', 'location_type', 'neighborhood', 'census_tract',
  'coarse_latitude', 'coarse_longitude', 'is_online', 'platform', 'summary', 'victim_count', 'victim_type', 'contact_ok',
  'share_with_law_enforcement', 'include_in_statistics', 'personal_data', 'data_key', 'content_hash']

/**
 * A report as the row the floor inserts: the derived columns Cohesion would store (categories, taxonomy
 * version, local day, coarse coordinates), random bytes of the sealed size in place of the sealed personal
 * data, a random content hash and a UUIDv7.
 */
export function floorRow (cityId, report, dayFormat) {
  const location = report.location ?? {}
  const personal = {}
  if (report.narrative !== undefined) personal.narrative = report.narrative
  if (report.reporter !== undefined) personal.reporter = report.reporter
  if (location.address !== undefined) personal.address = location.address
  if (location.latitude !== undefined) { personal.latitude = location.latitude; personal.longitude = location.longitude }
  const hasPersonal = Object.keys(personal).length > 0
  const occurredAt = report.occurred_at !== undefined ? new Date(report.occurred_at) : null
  const consent = report.consent ?? {}
  return [
    cityId, v7(), report.source, report.external_id, report.incident_type, report.bias_motivations, biasCategoriesOf(report.bias_motivations),
    report.offense_types ?? [], TAXONOMY_VERSION, occurredAt !== null ? dayFormat.format(occurredAt) : report.occurred_on,
    occurredAt?.toISOString() ?? null, report.reported_at, report.language ?? null, location.location_type ?? null, location.neighborhood ?? null,
    location.census_tract ?? null, location.latitude !== undefined ? Math.round(location.latitude * 100) / 100 : null,
    location.longitude !== undefined ? Math.round(location.longitude * 100) / 100 : null, report.online?.is_online ?? location.location_type === '58',
    report.online?.platform ?? null, report.summary ?? null, report.victim?.count ?? null, report.victim?.type ?? null, consent.contact_ok ?? false,
    consent.share_with_law_enforcement ?? false, consent.include_in_statistics ?? true,
    // AES-GCM seal: format byte + nonce + tag (29 bytes) around the JSON; the data key sealed the same way (29 + 32).
    hasPersonal ? randomBytes(29 + Buffer.byteLength(JSON.stringify(personal))) : null, hasPersonal ? randomBytes(61) : null,
    randomBytes(32).toString('hex')
  ]
}

/** The local calendar day of an instant in a timezone, as Cohesion derives occurred_on. */
export function dayFormatter (timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
}

/** A pool of valid bias-code combinations, drawn with the same frequencies as the reports, for the SQL seed. */
function comboPool (size, seedValue) {
  const random = prng(seedValue)
  return Array.from({ length: size }, () => {
    const motivations = biasCombo(random)
    return { m: motivations, c: biasCategoriesOf(motivations) }
  })
}

/**
 * `rows` incidents in each city, set-based: one INSERT ... SELECT FROM generate_series per city, every
 * choice random with the same frequencies as makeReports (bias codes from a pool of valid combinations;
 * ids UUIDv7-shaped from reported_at; 30 % with sealed personal data of realistic size: random bytes).
 * `client` is a pg client (no transaction needed: one statement per city).
 */
async function seedIncidents (client, cities, { rows, seed: seedValue = 11 }) {
  await client.query('SELECT setseed($1)', [(seedValue % 1000) / 1000])
  const combos = JSON.stringify(comboPool(2000, seedValue))
  for (const city of cities) {
    await client.query(`
      WITH combos AS (
        SELECT (ordinality - 1)::int AS i, ARRAY(SELECT jsonb_array_elements_text(e->'m')) AS m, ARRAY(SELECT jsonb_array_elements_text(e->'c')) AS c
        FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, ordinality)
      ), base AS (
        SELECT g, floor(random() * 2000)::int AS ci, $5::date + floor(random() * $6)::int AS day,
               random() AS r_type, random() < 0.1 AS online, random() < 0.6 AS with_time, random() < 0.3 AS personal,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6
        FROM generate_series(1, $3::int) AS g
      ), timed AS (
        SELECT b.*, CASE WHEN with_time THEN (day + make_interval(secs => floor(r1 * 86400))) AT TIME ZONE $4 END AS occurred_at,
               (day + make_interval(secs => 43200 + floor(r2 * 20 * 86400))) AT TIME ZONE 'UTC' AS reported_at
        FROM base b
      )
      INSERT INTO incidents (city_id, id, source, external_id, incident_type, bias_motivations, bias_categories, offense_types,
        taxonomy_version, occurred_on, occurred_at, reported_at, language, location_type, neighborhood, census_tract,
        coarse_latitude, coarse_longitude, is_online, platform, summary, victim_count, victim_type, contact_ok,
        share_with_law_enforcement, include_in_statistics, status, resolution, personal_data, data_key, content_hash,
        created_at, updated_at)
      SELECT $1::uuid,
        (lpad(to_hex((extract(epoch FROM t.reported_at) * 1000)::bigint), 12, '0') || '7' || substr(md5(g || 'a' || $1), 1, 3) || '8' || substr(md5(g || 'b' || $1), 1, 15))::uuid,
        'ngo-' || (1 + g % 24), 'seed-' || g,
        CASE WHEN r_type < 0.45 THEN 'hate_crime' WHEN r_type < 0.92 THEN 'bias_incident' ELSE 'undetermined' END,
        c.m, c.c,
        CASE WHEN r_type < 0.45 THEN ARRAY[($7::text[])[1 + floor(r3 * array_length($7::text[], 1))::int]] ELSE '{}'::text[] END,
        $8, day, occurred_at, reported_at,
        ($9::text[])[1 + floor(r4 * array_length($9::text[], 1))::int],
        CASE WHEN online THEN '58' ELSE ($10::text[])[1 + floor(r5 * array_length($10::text[], 1))::int] END,
        CASE WHEN NOT online THEN ($11::text[])[1 + floor(r6 * array_length($11::text[], 1))::int] END,
        CASE WHEN NOT online AND r1 < 0.5 THEN (1000 + floor(r2 * 400))::text || '.0' || floor(r3 * 3) END,
        CASE WHEN personal AND NOT online THEN round((37.70 + r4 * 0.12)::numeric, 2) END,
        CASE WHEN personal AND NOT online THEN round((-122.51 + r5 * 0.14)::numeric, 2) END,
        online, CASE WHEN online THEN ($12::text[])[1 + floor(r6 * array_length($12::text[], 1))::int] END,
        ($13::text[])[1 + floor(r3 * array_length($13::text[], 1))::int],
        1 + floor(r4 * 3)::int, ($14::text[])[1 + floor(r1 * array_length($14::text[], 1))::int],
        r2 < 0.5, r3 < 0.3, r4 < 0.95,
        CASE WHEN r5 < 0.40 THEN 'received' WHEN r5 < 0.60 THEN 'under_review' WHEN r5 < 0.85 THEN 'verified' WHEN r5 < 0.95 THEN 'closed' ELSE 'unfounded' END,
        CASE WHEN r5 < 0.60 THEN NULL WHEN r5 < 0.95 THEN 'verified' ELSE 'unfounded' END,
        CASE WHEN personal THEN decode(repeat(md5(g || 'p' || $1), 20 + floor(r6 * 16)::int), 'hex') END,
        CASE WHEN personal THEN decode(repeat(md5(g || 'k' || $1), 4), 'hex') END,
        md5(g || 'h' || $1) || md5(g || 'i' || $1),
        reported_at, reported_at + make_interval(days => floor(r6 * 30)::int)
      FROM timed t JOIN combos c ON c.i = t.ci`, [
      city.id, combos, rows, city.timezone, OCCURRED_FROM, OCCURRED_DAYS, OFFENSES, TAXONOMY_VERSION, LANGUAGES, LOCATIONS,
      NEIGHBORHOODS, PLATFORMS, SUMMARIES, VICTIM_TYPES
    ])
  }
}

/**
 * The keys the incident scenarios use, in the chosen city: an unlimited writer (NGO import), a reader, and the
 * coordinator's key that corrects reports (a PATCH needs the read scope besides the write one).
 */
async function incidentKeys (db, cityId) {
  const { key: writeKey } = await createApiKey(db, cityId, { name: 'NGO import key', scopes: ['incidents:write'] })
  const { key: readKey } = await createApiKey(db, cityId, { name: 'Incident reader key', scopes: ['incidents:read'] })
  const { key: editKey } = await createApiKey(db, cityId, { name: 'Coordinator key', scopes: ['incidents:write', 'incidents:read'] })
  return { writeKey, readKey, editKey }
}

// ---------------------------------------------------------------------------------------------------------
// Stakeholders
// ---------------------------------------------------------------------------------------------------------
/**
 * Relative frequency of each category in a city's stakeholder network: mostly community seats, a few elected
 * officials, a twentieth in law enforcement, some of no leg (federal partners, other).
 */
const CATEGORY_WEIGHTS = ('elected_official:3 city_staff:12 human_rights_commission:1 law_enforcement:6 community_organization:25 ' +
  'faith_community:10 social_services:8 youth:6 education:6 public_health:5 academia:4 business:5 media:3 federal_partner:2 other:4')
  .split(' ').map((pair) => pair.split(':'))
const WEIGHTED_CATEGORIES = CATEGORY_WEIGHTS.flatMap(([category, weight]) => Array(Number(weight)).fill(category))
/** identified 30 %, aware 30 %, engaged 20 %, active 15 %, leading 5 %. */
const WEIGHTED_ENGAGEMENT = [...Array(6).fill('identified'), ...Array(6).fill('aware'), ...Array(4).fill('engaged'), ...Array(3).fill('active'), 'leading']
const RELATIONSHIP_TYPES = ['collaboration', 'trust', 'referral', 'funding', 'communication']
const MEETING_KINDS = ['leadership_group', 'workshop', 'training', 'community_dialogue', 'briefing']

/**
 * `stakeholders` stakeholders and `relationships` relationships in one city, set-based: one INSERT ... SELECT
 * FROM generate_series each. Categories and engagement by the weights above, 5 % archived, 30 in the
 * leadership group (a few of whom left). Relationships have a skewed degree (one end drawn as random()²,
 * so that some stakeholders are hubs, as coordinators and liaisons are), every type, strength 1-5, 10 % ended.
 * Then `meetings` meetings over the last year with 5-30 attendees each (one INSERT per table).
 */
async function seedStakeholderNetwork (client, cityId, { stakeholders, relationships, meetings }) {
  await client.query('SELECT setseed(0.29)')
  await client.query(`
    INSERT INTO stakeholders (city_id, id, external_id, kind, name, category, engagement_level, leadership_role, leadership_joined_on,
      leadership_left_on, languages, tags, active, content_hash)
    SELECT $1::uuid, gen_random_uuid(), 'bench-stakeholder-' || g, CASE WHEN random() < 0.6 THEN 'organization' ELSE 'person' END,
      'Stakeholder ' || g, ($3::text[])[1 + floor(random() * array_length($3::text[], 1))::int],
      ($4::text[])[1 + floor(random() * array_length($4::text[], 1))::int],
      CASE WHEN g <= 2 THEN 'co_chair' WHEN g <= 30 THEN 'member' END,
      CASE WHEN g <= 30 THEN date '2023-01-01' END,
      CASE WHEN g BETWEEN 26 AND 30 THEN date '2024-06-30' END,
      '{en}', '{bench}', random() >= 0.05 OR g <= 30, md5(g || 'h' || $1) || md5(g || 'i' || $1)
    FROM generate_series(1, $2::int) AS g`, [cityId, stakeholders, WEIGHTED_CATEGORIES, WEIGHTED_ENGAGEMENT])
  await client.query(`
    WITH s AS (SELECT array_agg(id ORDER BY external_id) AS ids, count(*)::int AS n FROM stakeholders WHERE city_id = $1 AND external_id LIKE 'bench-stakeholder-%'),
    pairs AS (
      SELECT g, 1 + floor(power(random(), 2) * s.n)::int AS i, 1 + floor(random() * (s.n - 1))::int AS j, random() AS r1, random() AS r2, random() AS r3, s.ids, s.n
      FROM generate_series(1, $2::int) AS g, s
    )
    INSERT INTO stakeholder_relationships (city_id, id, external_id, from_id, to_id, type, strength, since, until, content_hash)
    SELECT $1::uuid, gen_random_uuid(), 'bench-relationship-' || g, ids[i], ids[CASE WHEN j >= i THEN j + 1 ELSE j END],
      ($3::text[])[1 + floor(r1 * array_length($3::text[], 1))::int], 1 + floor(r2 * 5)::int,
      date '2020-01-01' + floor(r3 * 1500)::int,
      CASE WHEN r3 < 0.1 THEN date '2024-01-01' + floor(r1 * 300)::int END,
      md5(g || 'r' || $1) || md5(g || 's' || $1)
    FROM pairs`, [cityId, relationships, RELATIONSHIP_TYPES])
  await client.query(`
    INSERT INTO meetings (city_id, id, external_id, held_on, title, kind, content_hash)
    SELECT $1::uuid, gen_random_uuid(), 'bench-meeting-' || g, current_date - floor(random() * 365)::int, 'Meeting ' || g,
      ($3::text[])[1 + floor(random() * array_length($3::text[], 1))::int], md5(g || 'm' || $1) || md5(g || 'n' || $1)
    FROM generate_series(1, $2::int) AS g`, [cityId, meetings, MEETING_KINDS])
  await client.query(`
    WITH s AS (SELECT array_agg(id ORDER BY external_id) AS ids, count(*)::int AS n FROM stakeholders WHERE city_id = $1 AND external_id LIKE 'bench-stakeholder-%')
    INSERT INTO meeting_attendees (city_id, meeting_id, stakeholder_id)
    SELECT DISTINCT $1::uuid, m.id, s.ids[1 + floor(power(random(), 2) * s.n)::int]
    FROM meetings m CROSS JOIN s CROSS JOIN LATERAL generate_series(1, 5 + (hashtext(m.id::text) & 25)) AS k
    WHERE m.city_id = $1 AND m.external_id LIKE 'bench-meeting-%'`, [cityId])
}

// ---------------------------------------------------------------------------------------------------------
// Seeds: what a scenario lists in `seeds` is generated once, after the cities, however many scenarios ask.
// Each gets { db (Drizzle), database (bench/harness.js), settings, fixtures } and adds to the fixtures.
// ---------------------------------------------------------------------------------------------------------
export const SEEDS = {
  /**
   * BENCH_INCIDENTS incidents in each of two cities, then VACUUM ANALYZE: the chosen city (Cohesion's ingest
   * and the list) and the next one (the floor's ingest, so that both sides write into a table of the same
   * size); plus a writer and a reader key in the chosen city.
   */
  async incidents ({ db, database, settings, fixtures }) {
    if (fixtures.floorCity === undefined) throw new Error('the incident scenarios need BENCH_CITIES ≥ 2 (a second city for the floor)')
    Object.assign(fixtures, await incidentKeys(db, fixtures.cityId))
    process.stdout.write(`\n  ${settings.incidents.toLocaleString('en-US')} incidents in each of ${fixtures.citySlug} and ${fixtures.floorCity.slug} ... `)
    const started = Date.now()
    await database.withBench(async (c) => {
      await seedIncidents(c, [{ id: fixtures.cityId, timezone: fixtures.cityTimezone }, fixtures.floorCity], { rows: settings.incidents })
      process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s; VACUUM ANALYZE ... `)
      await c.query('VACUUM (ANALYZE) incidents')
    })
  },

  /**
   * The stakeholder network of the chosen city: BENCH_STAKEHOLDERS stakeholders (2,000) and
   * BENCH_RELATIONSHIPS relationships (20,000), 100 meetings, then VACUUM ANALYZE; plus a key with
   * stakeholders:read.
   */
  async stakeholderNetwork ({ db, database, settings, fixtures }) {
    const { key } = await createApiKey(db, fixtures.cityId, { name: 'Stakeholder reader key', scopes: ['stakeholders:read'] })
    fixtures.stakeholderReadKey = key
    process.stdout.write(`\n  ${settings.stakeholders.toLocaleString('en-US')} stakeholders, ${settings.relationships.toLocaleString('en-US')} relationships in ${fixtures.citySlug} ... `)
    const started = Date.now()
    await database.withBench(async (c) => {
      await seedStakeholderNetwork(c, fixtures.cityId, { stakeholders: settings.stakeholders, relationships: settings.relationships, meetings: 100 })
      process.stdout.write(`${((Date.now() - started) / 1000).toFixed(1)} s; VACUUM ANALYZE ... `)
      await c.query('VACUUM (ANALYZE) stakeholders, stakeholder_relationships, meetings, meeting_attendees')
    })
  }
}
