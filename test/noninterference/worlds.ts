import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { buildApp } from '../../src/app.js'
import { openDatabase, openPglite, query, type Database, type Db } from '../../src/db/client.js'
import { deriveKey } from '../../src/lib/crypto.js'
import { SCOPE_NAMES, type Scope } from '../../src/lib/scopes.js'
import { createApiKey } from '../../src/routes/v1/api-keys/repo.js'
import { createCity } from '../../src/routes/v1/city/repo.js'
import { testConfig } from '../helper.js'
import { ensureTemplate, pgliteTemplatePath, pgTemplateName, testDatabaseUrl, withDatabase } from '../template.js'

/**
 * The two worlds of a non-interference run. Everything a key under test may read is built once, in a base
 * database, and both worlds are copies of it, so those records carry the same ids, versions and ETags in
 * both. Then each world gets, in the same order and through the app, what no key under test may read, with
 * values of its own: the personal fields of the shared records, the answers and free text of paper survey
 * forms (swapped between forms, so every published figure stays the same), other sources' incidents, and
 * another city's records.
 */

export type Side = 'L' | 'R'

export type CityName = 'W' | 'S' | 'P' | 'Q'

export interface KeyKind {
  /** A name for the report: what the key is, and the city it works in. */
  name: string
  city: CityName
  scopes: Scope[]
  sources?: string[]
}

/**
 * The keys under test. City W varies personal data, paper-form answers and the other city; city S varies
 * those and, besides, the incidents of other sources than ngo-a (which none of its keys may read); city P
 * varies the other city only, its personal data being the same in both worlds. City Q has a write-only key
 * alone: it varies every record of the city, public fields and existence, under the external_ids the run
 * sends (a key that cannot read is answered by what it sent alone).
 *
 * Published aggregates (incident counts, KPIs computed from them) are the city's, suppressed, whatever a
 * key's sources: what they count is the statistics layer's question, not this run's. So, for the
 * source-limited kinds as for the survey figures, the worlds keep them equal rather than vary them: the other
 * sources' incidents of city S are as many in both worlds, with the same counted fields, and no write of the
 * run that is not a dry run names one of them by its external_id (harness.ts), so the run's writes never
 * create a record in one world where they merge into one in the other.
 */
export const KEY_KINDS: KeyKind[] = [
  { name: 'read', city: 'W', scopes: ['stakeholders:read', 'surveys:read', 'incidents:read', 'plans:read', 'kpis:read', 'exports:read', 'exports:read_records'] },
  { name: 'write-only', city: 'W', scopes: ['stakeholders:write', 'surveys:write', 'survey-responses:write', 'incidents:write', 'plans:write', 'kpis:write'] },
  { name: 'aggregate-only', city: 'W', scopes: ['surveys:read', 'kpis:read', 'exports:read'] },
  { name: 'admin', city: 'W', scopes: ['admin'] },
  { name: 'source-limited', city: 'S', scopes: ['incidents:write', 'incidents:read'], sources: ['ngo-a'] },
  { name: 'source-limited-admin', city: 'S', scopes: ['admin'], sources: ['ngo-a'] },
  { name: 'write-only/S', city: 'S', scopes: ['stakeholders:write', 'surveys:write', 'survey-responses:write', 'incidents:write', 'plans:write', 'kpis:write'] },
  { name: 'aggregate-only/S', city: 'S', scopes: ['surveys:read', 'kpis:read', 'exports:read'] },
  // A resident portal's key, which every resident shares: it submits reports and responses, and reads the forms.
  { name: 'shared', city: 'W', scopes: ['incidents:report', 'survey-responses:submit', 'surveys:read'], sources: ['resident-portal'] },
  // A key with a personal scope, in a city whose personal data is the same in both worlds: what differs for it
  // is the other city only (it has no sources, so other sources do not apply).
  { name: 'personal-read', city: 'P', scopes: ['incidents:read', 'incidents:read_personal'] },
  { name: 'write-only/Q', city: 'Q', scopes: ['stakeholders:write', 'surveys:write', 'survey-responses:write', 'incidents:write', 'plans:write', 'kpis:write'] }
]

/** Keys of the oracles that need a key of their own, so that their one-sided requests disturb no other key. */
export const ORACLE_KEYS: Record<string, { city: CityName, scopes: Scope[], sources?: string[] }> = {
  'shared-by-two-clients': { city: 'W', scopes: ['incidents:report', 'survey-responses:submit', 'surveys:read'], sources: ['resident-portal'] },
  'idempotency-other-key': { city: 'W', scopes: ['incidents:write', 'stakeholders:write'] },
  'idempotency-this-key': { city: 'W', scopes: ['incidents:write', 'stakeholders:write'] }
}

export interface Fixtures {
  cities: Record<CityName | 'B', string>
  /** The key cursors are sealed with (both worlds share one encryption key), for the harness to read them. */
  cursorKey: Buffer
  /** Secrets of the keys under test and of the oracles' keys, by name. */
  keys: Record<string, { id: string, secret: string, city: string }>
  /** Ids of everything built in the base, by kind ('incident', 'stakeholder', ...) and city. */
  ids: Record<string, string[]>
  /** Every uuid in the base database: the same in both worlds. */
  baseIds: Set<string>
  /** The display prefixes of the keys in the base; a key made during the run shows one of its own. */
  basePrefixes: Set<string>
  /** Ids no generated request should revoke or touch (the keys doing the work). */
  protectedIds: Set<string>
  externalIds: string[]
  questionCodes: string[]
  optionCodes: string[]
  surveys: Record<'W' | 'S', string>
  /** The stored form of each base incident as its owner would import it, without personal fields. */
  incidentInputs: Record<string, { city: CityName, input: Record<string, unknown> }>
  stakeholderInputs: Record<string, { city: 'W' | 'S', input: Record<string, unknown> }>
}

export interface World {
  side: Side
  app: FastifyInstance
  database: Database
  /** Ids that exist in this world only, recorded where they were made: kept as they are when compared. */
  ownIds: Set<string>
  /** Ids of records that exist in both worlds with values of each world's own, by a label common to both. */
  labels: Map<string, string>
  byLabel: Map<string, string>
  /** Ids in city B (the other city), by world: none may reach a key of city A. */
  otherCityIds: Set<string>
}

export interface Worlds {
  L: World
  R: World
  fixtures: Fixtures
  driver: 'pg' | 'pglite'
  /** The personal values each world holds, to guess with. */
  personal: Record<Side, Record<string, Record<string, unknown>>>
  /** Each world's paper forms: external_id to answers. */
  forms: Record<Side, Record<string, Record<string, unknown>>>
  close: () => Promise<void>
}

const SENTINEL = {
  personal: (side: Side, what: string) => `PII-${side}-${what}`,
  otherCity: (side: Side, what: string) => `XCITY-${side}-${what}`,
  otherSource: (side: Side, what: string) => `SRCB-${side}-${what}`,
  blind: (side: Side, what: string) => `BLIND-${side}-${what}`
}
/** Looked for in every answer: none may reach a key without the personal scopes, nor a key of another city. */
export const SENTINEL_PATTERNS = { personal: /PII-[LR]-[\w.-]*/gi, otherCity: /XCITY-[LR]-[\w.-]*/gi, otherSource: /SRCB-[LR]-[\w.-]*/gi, blind: /BLIND-[LR]-[\w.-]*/gi }

interface Sender { app: FastifyInstance, counter: { n: number } }

async function send (s: Sender, key: string, method: string, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  s.counter.n++
  return await s.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${key}`, 'x-request-id': `fixture-${s.counter.n}`, ...headers },
    ...(payload !== undefined ? { payload: payload as object } : {})
  })
}

async function ok (s: Sender, key: string, method: string, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await send(s, key, method, url, payload, headers)
  if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url} answered ${res.statusCode}: ${res.body.slice(0, 500)}`)
  return res.body === '' ? null : res.json()
}

// ---------------------------------------------------------------------------------------------------------
// Databases: a base built once, copied into two worlds.

interface Store { database: Database, url?: string }

async function pgAdmin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() })
  await client.connect()
  try { return await fn(client) } finally { await client.end() }
}

const pgOptions = (url: string) => ({ DATABASE_URL: url, DATA_DIR: '', DATABASE_POOL_SIZE: 5, DATABASE_CONNECT_TIMEOUT_MS: 10000, DATABASE_STATEMENT_TIMEOUT_MS: 60000 })

async function pgCopy (from: string, to: string): Promise<Store> {
  await pgAdmin(async (c) => { await c.query(`CREATE DATABASE "${to}" TEMPLATE "${from}"`) })
  const url = withDatabase(testDatabaseUrl() as string, to)
  return { database: await openDatabase(pgOptions(url)), url }
}

// ---------------------------------------------------------------------------------------------------------
// The base: cities, keys and every record a key under test may read.

async function makeKey (db: Db, cityId: string, name: string, scopes: Scope[], sources: string[] | null = null): Promise<{ id: string, secret: string, city: string }> {
  const { row, key } = await createApiKey(db, cityId, { name, scopes, sources, expiresAt: null })
  return { id: row.id, secret: key, city: cityId }
}

const ALL_SCOPES = [...SCOPE_NAMES]

export const QUESTION_CODES = ['neighbourhood', 'witnessed', 'safe', 'trust_police', 'cohesion', 'years', 'story']
export const OPTION_CODES = ['downtown', 'west_side', 'south_end', 'graffiti', 'harassment', 'online']

export function surveyBody (title: string): Record<string, unknown> {
  return {
    title: { en: title, es: title },
    description: { en: 'Tell us about hate in your neighbourhood.', es: 'Cuéntenos sobre el odio en su barrio.' },
    languages: ['en', 'es'],
    default_language: 'en',
    anonymous: false,
    questions: [
      { code: 'neighbourhood', type: 'single_choice', required: true, breakdown: true, label: { en: 'Where do you live?', es: '¿Dónde vive?' }, options: [{ code: 'downtown', label: { en: 'Downtown', es: 'Centro' } }, { code: 'west_side', label: { en: 'West Side', es: 'Lado oeste' } }, { code: 'south_end', label: { en: 'South End', es: 'Extremo sur' } }] },
      { code: 'witnessed', type: 'multiple_choice', label: { en: 'What have you witnessed?', es: '¿Qué ha presenciado?' }, options: [{ code: 'graffiti', label: { en: 'Hateful graffiti', es: 'Pintadas de odio' } }, { code: 'harassment', label: { en: 'Harassment', es: 'Acoso' } }, { code: 'online', label: { en: 'Online hate', es: 'Odio en línea' } }] },
      { code: 'safe', type: 'yes_no', required: true, label: { en: 'Do you feel safe?', es: '¿Se siente seguro?' } },
      { code: 'trust_police', type: 'likert_5', label: { en: 'I trust the police', es: 'Confío en la policía' } },
      { code: 'cohesion', type: 'rating_0_10', label: { en: 'How connected is your community?', es: '¿Qué tan unida está su comunidad?' } },
      { code: 'years', type: 'number', min: 0, max: 100, label: { en: 'Years in the city', es: 'Años en la ciudad' } },
      { code: 'story', type: 'text', label: { en: 'Anything else?', es: '¿Algo más?' } }
    ]
  }
}

const NEIGHBOURHOODS = ['downtown', 'west_side', 'south_end']

/** The choice answers of the i-th resident: spread so that every published cell is well above the threshold. */
function choiceAnswers (i: number): Record<string, unknown> {
  return {
    neighbourhood: NEIGHBOURHOODS[i % 3],
    witnessed: [['graffiti'], ['harassment', 'online'], ['graffiti', 'online'], []][i % 4],
    safe: i % 2 === 0,
    trust_police: 1 + (i % 5),
    cohesion: i % 11,
    years: 3 + (i % 40)
  }
}

export function incidentBody (source: string, externalId: string, i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source,
    external_id: externalId,
    incident_type: i % 3 === 0 ? 'hate_crime' : 'bias_incident',
    bias_motivations: [['14'], ['21'], ['41', '14'], ['12']][i % 4],
    ...(i % 3 === 0 ? { offense_types: ['13B'] } : {}),
    occurred_on: `2024-0${1 + (i % 6)}-1${i % 9}`,
    summary: `Flyers posted near the library, report ${i % 4}.`,
    location: { location_type: '57', neighborhood: ['Downtown', 'West Side', 'South End'][i % 3], census_tract: '0215.02' },
    victim: { count: 1, type: 'individual' },
    ...extra
  }
}

export function stakeholderBody (i: number, externalId: string): Record<string, unknown> {
  const people = [
    { kind: 'person', name: 'Director of Community Relations', category: 'city_staff', leadership_group: { role: 'chair', joined_on: '2024-01-15' } },
    { kind: 'organization', name: 'AAPI coalition', category: 'community_organization', leadership_group: { role: 'member', joined_on: '2024-02-01' } },
    { kind: 'person', name: 'Community liaison officer', category: 'law_enforcement', leadership_group: { role: 'member', joined_on: '2024-03-01' } },
    { kind: 'organization', name: 'Interfaith council', category: 'faith_community' }
  ]
  return { external_id: externalId, engagement_level: 'engaged', languages: ['en', 'es'], tags: ['founding'], ...people[i % people.length] }
}

async function buildCity (s: Sender, key: string, city: 'W' | 'S', ids: Record<string, string[]>, fixtures: Pick<Fixtures, 'externalIds' | 'incidentInputs' | 'stakeholderInputs' | 'surveys'>): Promise<void> {
  const push = (kind: string, id: string): void => { (ids[kind] ??= []).push(id) }
  const stakeholderIds: string[] = []
  for (let i = 0; i < 4; i++) {
    const externalId = `st-${city}-${i + 1}`
    const body = stakeholderBody(i, externalId)
    const created = await ok(s, key, 'POST', '/v1/stakeholders', body)
    stakeholderIds.push(created.id)
    push('stakeholders', created.id)
    fixtures.externalIds.push(externalId)
    fixtures.stakeholderInputs[created.id] = { city, input: body }
  }
  const pairs: Array<[number, number, string]> = [[0, 1, 'collaboration'], [1, 2, 'trust'], [2, 3, 'referral'], [0, 3, 'communication']]
  for (const [n, [a, b, type]] of pairs.entries()) {
    const externalId = `rel-${city}-${n + 1}`
    push('stakeholder-relationships', (await ok(s, key, 'POST', '/v1/stakeholder-relationships', { external_id: externalId, from_id: stakeholderIds[a], to_id: stakeholderIds[b], type, strength: 3, since: '2024-01-01' })).id)
    fixtures.externalIds.push(externalId)
  }
  push('meetings', (await ok(s, key, 'POST', '/v1/meetings', { external_id: `mt-${city}-1`, held_on: '2024-10-15', title: 'Leadership group, fourth session', kind: 'leadership_group', attendee_ids: stakeholderIds.slice(0, 3), topics: ['survey results'], notes: 'Agreed to share the survey.' })).id)
  const programIds: string[] = []
  for (let i = 0; i < 2; i++) {
    const created = await ok(s, key, 'POST', '/v1/programs', { external_id: `prog-${city}-${i + 1}`, name: `Victim support line ${i + 1}`, description: 'Confidential support.', service_types: ['victim_support'], languages: ['en'], neighborhoods: ['Downtown'], public_email: 'help@support.example.org' })
    programIds.push(created.id)
    push('programs', created.id)
    fixtures.externalIds.push(`prog-${city}-${i + 1}`)
  }
  // Incidents everyone in the city may read; in city S only ngo-a's (the source its limited keys report for).
  const sources = city === 'W' ? ['ngo-a', 'ngo-a', 'ngo-a', 'ngo-a', 'ngo-b', 'ngo-b', 'resident-portal', 'resident-portal'] : ['ngo-a', 'ngo-a', 'ngo-a', 'ngo-a', 'ngo-a']
  for (const [i, source] of sources.entries()) {
    const externalId = `inc-${city}-${source}-${i + 1}`
    const body = incidentBody(source, externalId, i)
    const created = await ok(s, key, 'POST', '/v1/incidents', body)
    push('incidents', created.id)
    fixtures.externalIds.push(externalId)
    fixtures.incidentInputs[created.id] = { city, input: body }
  }
  // The survey, with enough portal responses (no free text, no contact) for every cell to be published.
  const survey = await ok(s, key, 'POST', '/v1/surveys', { ...surveyBody(`Living together ${city}`), external_id: `survey-${city}` })
  await ok(s, key, 'PATCH', `/v1/surveys/${survey.id as string}`, { status: 'open' }, { 'if-match': '*' })
  push('surveys', survey.id)
  fixtures.surveys[city] = survey.id
  for (let i = 0; i < 24; i++) push('survey-responses', (await ok(s, key, 'POST', `/v1/surveys/${survey.id as string}/responses`, { language: 'en', answers: choiceAnswers(i) })).id)
  const draft = await ok(s, key, 'POST', '/v1/surveys', { ...surveyBody(`Draft ${city}`), external_id: `survey-${city}-draft` })
  push('surveys', draft.id)
  // The plan.
  const plan = await ok(s, key, 'POST', '/v1/action-plans', { external_id: `plan-${city}`, title: 'Prevention framework 2025–2027', vision: 'Safe from hate.', period_start: '2025-01-01', period_end: '2027-12-31', currency: 'USD' })
  push('action-plans', plan.id)
  const goal = await ok(s, key, 'POST', `/v1/action-plans/${plan.id as string}/goals`, { external_id: `goal-${city}-1`, title: 'Residents report hate safely' })
  push('goals', goal.id)
  const objective = await ok(s, key, 'POST', `/v1/goals/${goal.id as string}/objectives`, { external_id: `obj-${city}-1`, title: 'A reporting mechanism in four languages' })
  push('objectives', objective.id)
  const action = await ok(s, key, 'POST', `/v1/objectives/${objective.id as string}/actions`, { external_id: `act-${city}-1`, title: 'Publish the report form', owner_id: stakeholderIds[0], partner_ids: [stakeholderIds[1]], program_ids: [programIds[0]], due_on: '2025-06-30', status: 'on_track', progress: 20 })
  push('actions', action.id)
  await ok(s, key, 'POST', `/v1/actions/${action.id as string}/updates`, { status: 'on_track', progress: 40, text: 'Form translated.' })
  fixtures.externalIds.push(`plan-${city}`, `goal-${city}-1`, `obj-${city}-1`, `act-${city}-1`, `survey-${city}`)
  // KPIs: one computed from incidents, one manual with a value.
  push('kpis', (await ok(s, key, 'POST', '/v1/kpis', { code: `incidents-${city.toLowerCase()}`, name: { en: 'Reported incidents' }, unit: 'count', direction: 'decrease', period: 'month', method: 'computed', metric: 'incident_count', targets: { '2024-06': 3 } })).id)
  const manual = await ok(s, key, 'POST', '/v1/kpis', { code: `trainings-${city.toLowerCase()}`, name: { en: 'Trainings held' }, unit: 'count', direction: 'increase', period: 'quarter', method: 'manual' })
  push('kpis', manual.id)
  await ok(s, key, 'PUT', `/v1/kpis/${manual.id as string}/measurements/2024-Q2`, { value: 3 })
}

async function allIds (db: Db): Promise<Set<string>> {
  const columns = await query<{ table_name: string, column_name: string }>(db, sql`SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND data_type = 'uuid'`)
  const ids = new Set<string>()
  for (const { table_name: table, column_name: column } of columns) {
    const rows = await query<{ v: string | null }>(db, sql`SELECT DISTINCT ${sql.identifier(column)}::text AS v FROM ${sql.identifier(table)}`)
    for (const { v } of rows) if (v !== null) ids.add(v)
  }
  return ids
}

async function cityIds (db: Db, cityId: string): Promise<Set<string>> {
  const columns = await query<{ table_name: string, column_name: string }>(db, sql`SELECT c.table_name, c.column_name FROM information_schema.columns c
    WHERE c.table_schema = 'public' AND c.data_type = 'uuid' AND EXISTS (SELECT 1 FROM information_schema.columns k
      WHERE k.table_schema = 'public' AND k.table_name = c.table_name AND k.column_name = 'city_id')`)
  const ids = new Set<string>([cityId])
  for (const { table_name: table, column_name: column } of columns) {
    const rows = await query<{ v: string | null }>(db, sql`SELECT DISTINCT ${sql.identifier(column)}::text AS v FROM ${sql.identifier(table)} WHERE city_id = ${cityId}::uuid`)
    for (const { v } of rows) if (v !== null) ids.add(v)
  }
  return ids
}

// ---------------------------------------------------------------------------------------------------------
// What each world holds of its own.

/** Precise coordinates that round to the same two decimals (what a key without the personal scope sees). */
const COORDINATES: Record<Side, Array<[number, number]>> = {
  L: [[41.053921, -73.538731], [41.051188, -73.541422], [41.048812, -73.536003]],
  R: [[41.052417, -73.540006], [41.047706, -73.542911], [41.050013, -73.539170]]
}

function personalOf (side: Side, i: number): Record<string, unknown> {
  const [latitude, longitude] = COORDINATES[side][i % 3] as [number, number]
  return {
    narrative: `${SENTINEL.personal(side, `narrative-${i}`)} they shouted at me outside my home`,
    reporter: { name: SENTINEL.personal(side, `name-${i}`), email: `pii-${side.toLowerCase()}-${i}@example.org`, phone: side === 'L' ? '+1 203 555 0171' : '+1 203 555 0172', role: 'victim' },
    location: { address: `${SENTINEL.personal(side, `address-${i}`)} Elm Street`, latitude, longitude }
  }
}

function contactOf (side: Side, i: number): Record<string, unknown> {
  return { email: `pii-${side.toLowerCase()}-contact-${i}@example.org`, phone: side === 'L' ? '+1 203 555 0181' : '+1 203 555 0182' }
}

/** Four paper forms per city; world R gets world L's answer sets swapped in pairs, with its own free text. */
function paperForms (side: Side, city: string): Record<string, Record<string, unknown>> {
  const forms: Record<string, Record<string, unknown>> = {}
  for (let i = 0; i < 4; i++) {
    const set = side === 'L' ? i : i ^ 1
    forms[`form-${city}-${i + 1}`] = { ...choiceAnswers(100 + set), story: SENTINEL.personal(side, `story-${city}-${i + 1}`) }
  }
  return forms
}

async function populateWorld (world: World, fixtures: Fixtures, setupKeys: Record<string, string>, worlds: Pick<Worlds, 'personal' | 'forms'>): Promise<void> {
  const side = world.side
  const s: Sender = { app: world.app, counter: { n: 0 } }
  const personal: Record<string, Record<string, unknown>> = {}
  // Personal fields of every base incident and stakeholder, sent again by their owner through the import,
  // as a partner adds a victim's details to a report it sent before (the import keeps what it compares).
  const byCity = <T extends { city: CityName, input: Record<string, unknown> }>(inputs: Record<string, T>, city: CityName): Array<[string, T]> =>
    Object.entries(inputs).filter(([, v]) => v.city === city)
  for (const city of ['W', 'S'] as const) {
    const incidents = byCity(fixtures.incidentInputs, city).map(([id, { input }]) => {
      const i = (fixtures.ids.incidents ?? []).indexOf(id)
      const values = personalOf(side, i)
      personal[id] = values
      return { ...input, ...values, location: { ...(input.location as object), ...(values.location as object) } }
    })
    await importAll(s, setupKeys[city] as string, '/v1/incidents/batch', incidents)
    const stakeholders = byCity(fixtures.stakeholderInputs, city).map(([id, { input }]) => {
      const contact = contactOf(side, (fixtures.ids.stakeholders ?? []).indexOf(id))
      personal[id] = { contact }
      return { ...input, contact }
    })
    await importAll(s, setupKeys[city] as string, '/v1/stakeholders/batch', stakeholders)
  }
  worlds.personal[side] = personal
  // Paper forms, with contact details and free text.
  const forms: Record<string, Record<string, unknown>> = {}
  for (const city of ['W', 'S'] as const) {
    const mine = paperForms(side, city)
    Object.assign(forms, mine)
    const items = Object.entries(mine).map(([externalId, answers], i) => ({ external_id: externalId, language: 'en', filled_on: '2024-05-02', answers, contact: { name: SENTINEL.personal(side, `respondent-${city}-${i + 1}`) } }))
    const result = await ok(s, setupKeys[city] as string, 'POST', `/v1/surveys/${fixtures.surveys[city]}/responses/batch`, items)
    const refused = (result.items as Array<{ outcome: string }>).filter((item) => item.outcome === 'rejected')
    if (refused.length > 0) throw new Error(`fixture paper forms refused: ${JSON.stringify(refused).slice(0, 500)}`)
    for (const item of result.items as Array<{ id: string, external_id: string }>) label(world, item.id, `paper-form:${item.external_id}`)
  }
  worlds.forms[side] = forms
  // Other sources' incidents in city S: as many, with the same counted fields, and values of this world.
  for (const [i, source] of ['ngo-b', 'ngo-b', 'resident-portal'].entries()) {
    const body = incidentBody(source, SENTINEL.otherSource(side, `ext-${i + 1}`), i + 10, {
      summary: `${SENTINEL.otherSource(side, `summary-${i + 1}`)} reported by another organisation`,
      ...personalOf(side, i + 20),
      location: { location_type: '57', neighborhood: ['Downtown', 'West Side', 'South End'][(i + 10) % 3], census_tract: '0215.02', ...(personalOf(side, i + 20).location as object) }
    })
    const created = await ok(s, setupKeys.S as string, 'POST', '/v1/incidents', body)
    world.ownIds.add(created.id)
  }
  // The other city: different records, different counts, sentinels everywhere.
  const b = setupKeys.B as string
  const count = side === 'L' ? 3 : 1
  for (let i = 0; i < count; i++) {
    const created = await ok(s, b, 'POST', '/v1/incidents', incidentBody('ngo-a', SENTINEL.otherCity(side, `inc-${i}`), i, { summary: SENTINEL.otherCity(side, `summary-${i}`), ...personalOf(side, i) }))
    world.ownIds.add(created.id)
  }
  for (let i = 0; i < (side === 'L' ? 2 : 3); i++) {
    const created = await ok(s, b, 'POST', '/v1/stakeholders', { ...stakeholderBody(i, `st-W-${i + 1}`), name: SENTINEL.otherCity(side, `stakeholder-${i}`), contact: contactOf(side, 10 + i) })
    world.ownIds.add(created.id)
  }
  const survey = await ok(s, b, 'POST', '/v1/surveys', { ...surveyBody(SENTINEL.otherCity(side, 'survey')), external_id: 'survey-W' })
  world.ownIds.add(survey.id)
  if (side === 'R') world.ownIds.add((await ok(s, b, 'POST', '/v1/programs', { external_id: 'prog-W-1', name: SENTINEL.otherCity(side, 'program') })).id)
  await populateBlindCity(world, s, setupKeys.Q as string)
  world.otherCityIds = await cityIds(world.database.db, fixtures.cities.B)
  for (const id of world.otherCityIds) if (!fixtures.baseIds.has(id)) world.ownIds.add(id)
}

/**
 * City Q, whose only key under test writes and cannot read: each world holds records of its own under the
 * external_ids the run sends (those of city W), with other public fields, or none at all. World L has four
 * stakeholders with seats in the leadership group, their ties, a program, five reports (one online, one with
 * exact coordinates), a plan, a KPI and a survey; world R has two of the stakeholders with other seats and
 * kinds, three of the reports with other days and places, and nothing else.
 */
async function populateBlindCity (world: World, s: Sender, key: string): Promise<void> {
  const side = world.side
  const own = (created: { id: string }): void => { world.ownIds.add(created.id) }
  const stakeholders = side === 'L' ? 4 : 2
  for (let i = 0; i < stakeholders; i++) {
    const body = stakeholderBody(side === 'L' ? i : i + 1, `st-W-${i + 1}`)
    own(await ok(s, key, 'POST', '/v1/stakeholders', { ...body, name: SENTINEL.blind(side, `stakeholder-${i + 1}`), leadership_group: { role: 'member', joined_on: side === 'L' ? `2024-0${i + 1}-10` : `2023-1${i}-20` } }))
  }
  if (side === 'L') {
    own(await ok(s, key, 'POST', '/v1/stakeholder-relationships', { external_id: 'rel-W-1', from_external_id: 'st-W-1', to_external_id: 'st-W-2', type: 'trust', strength: 4, since: '2024-02-01' }))
    own(await ok(s, key, 'POST', '/v1/programs', { external_id: 'prog-W-1', name: SENTINEL.blind(side, 'program'), service_types: ['victim_support'] }))
    own(await ok(s, key, 'POST', '/v1/action-plans', { external_id: 'plan-W', title: SENTINEL.blind(side, 'plan'), period_start: '2025-01-01', period_end: '2027-12-31', currency: 'EUR' }))
    own(await ok(s, key, 'POST', '/v1/kpis', { code: 'incidents-w', name: { en: SENTINEL.blind(side, 'kpi') }, unit: 'count', direction: 'decrease', period: 'month', method: 'manual' }))
    own(await ok(s, key, 'POST', '/v1/surveys', { ...surveyBody(SENTINEL.blind(side, 'survey')), external_id: 'survey-W' }))
  }
  const reports = side === 'L' ? 5 : 3
  for (let i = 0; i < reports; i++) {
    const [latitude, longitude] = COORDINATES[side][i % 3] as [number, number]
    const online = side === 'L' && i === 0
    own(await ok(s, key, 'POST', '/v1/incidents', incidentBody('ngo-a', `inc-W-ngo-a-${i + 1}`, side === 'L' ? i : i + 1, {
      summary: SENTINEL.blind(side, `summary-${i + 1}`),
      occurred_on: side === 'L' ? `2024-0${1 + i}-0${1 + i}` : `2023-1${i}-1${i}`,
      location: online ? { location_type: '58' } : { location_type: '57', neighborhood: side === 'L' ? 'Downtown' : 'South End', latitude, longitude },
      ...(online ? { online: { is_online: true, platform: SENTINEL.blind(side, 'platform') } } : {})
    })))
  }
}

async function importAll (s: Sender, key: string, url: string, items: unknown[]): Promise<void> {
  const result = await ok(s, key, 'POST', url, items)
  const refused = (result.items as Array<{ outcome: string }>).filter((item) => item.outcome !== 'updated')
  if (refused.length > 0) throw new Error(`fixture import ${url}: ${JSON.stringify(refused).slice(0, 500)}`)
}

export function label (world: World, id: string, name: string): void {
  world.labels.set(id, name)
  world.byLabel.set(name, id)
}

export interface WorldOptions {
  /** The configuration both worlds share (one encryption key, so cursors and sealed data read alike). */
  env?: Record<string, string>
}

export async function buildWorlds (options: WorldOptions = {}): Promise<Worlds> {
  const config = testConfig({
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // One allowance window for the whole run: a window that ended between the two worlds' copies of a
    // request would make RateLimit-Remaining differ for a reason that is the harness's own.
    RATE_LIMIT_MAX: '1000000',
    RATE_LIMIT_WINDOW_MS: '86400000',
    ...options.env
  })
  const t0 = Date.now()
  const debug = (what: string): void => { if (process.env.NI_DEBUG !== undefined) console.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`) }
  await ensureTemplate()
  debug('template')
  const url = testDatabaseUrl()
  const tag = `cohesion_ni_${process.pid}_${randomBytes(3).toString('hex')}`
  const cleanup: Array<() => Promise<void>> = []

  // The base.
  let base: Store
  if (url !== undefined) {
    base = await pgCopy(pgTemplateName(), `${tag}_base`)
    cleanup.push(async () => { await pgAdmin(async (c) => { await c.query(`DROP DATABASE IF EXISTS "${tag}_base" WITH (FORCE)`) }) })
  } else {
    base = { database: openPglite(await PGlite.create({ loadDataDir: new Blob([readFileSync(pgliteTemplatePath())]) })) }
  }
  const db = base.database.db
  const cities = {
    W: (await createCity(db, { slug: 'ni-city-w', name: 'Non-interference W', state: 'CT', population: 135000 })).id,
    S: (await createCity(db, { slug: 'ni-city-s', name: 'Non-interference S', state: 'CT', population: 135000 })).id,
    B: (await createCity(db, { slug: 'ni-city-b', name: 'Non-interference B', state: 'CT', population: 135000 })).id,
    P: (await createCity(db, { slug: 'ni-city-p', name: 'Non-interference P', state: 'CT', population: 135000 })).id,
    Q: (await createCity(db, { slug: 'ni-city-q', name: 'Non-interference Q', state: 'CT', population: 135000 })).id
  }
  const keys: Fixtures['keys'] = {}
  for (const kind of KEY_KINDS) keys[kind.name] = await makeKey(db, cities[kind.city], `ni ${kind.name}`, kind.scopes, kind.sources ?? null)
  for (const [name, k] of Object.entries(ORACLE_KEYS)) keys[name] = await makeKey(db, cities[k.city], `ni ${name}`, k.scopes, k.sources ?? null)
  const setup: Record<string, { id: string, secret: string, city: string }> = {}
  for (const city of ['W', 'S', 'B', 'Q'] as const) setup[city] = await makeKey(db, cities[city], `ni setup ${city}`, ALL_SCOPES)
  // Keys that a generated revoke may hit: the keys doing the work are not offered to it.
  const spare = [await makeKey(db, cities.W, 'ni spare W', ['kpis:read']), await makeKey(db, cities.S, 'ni spare S', ['kpis:read'])]
  const ids: Record<string, string[]> = { 'api-keys': spare.map((k) => k.id) }
  const fixtures: Fixtures = {
    cities,
    cursorKey: deriveKey(deriveKey(config.ENCRYPTION_KEY, 'cursor'), 'cursor-seal'),
    keys,
    ids,
    baseIds: new Set(),
    basePrefixes: new Set(),
    protectedIds: new Set([...Object.values(keys), ...Object.values(setup)].map((k) => k.id)),
    externalIds: [],
    questionCodes: QUESTION_CODES,
    optionCodes: OPTION_CODES,
    surveys: { W: '', S: '' },
    incidentInputs: {},
    stakeholderInputs: {}
  }
  const baseApp = await buildApp({ config, database: base.database }, false)
  await baseApp.ready()
  const s: Sender = { app: baseApp, counter: { n: 0 } }
  await buildCity(s, setup.W?.secret as string, 'W', ids, fixtures)
  await buildCity(s, setup.S?.secret as string, 'S', ids, fixtures)
  // City P: incidents with their personal data, the same in both worlds (no sentinel: its key may read them).
  const setupP = await makeKey(db, cities.P, 'ni setup P', ALL_SCOPES)
  fixtures.protectedIds.add(setupP.id)
  for (let i = 0; i < 3; i++) {
    const body = incidentBody('ngo-a', `inc-P-${i + 1}`, i, {
      narrative: `Resident ${i + 1} was shouted at on the way home.`,
      reporter: { name: `Resident ${i + 1}`, email: `resident-${i + 1}@example.org`, role: 'victim' },
      location: { location_type: '57', neighborhood: 'Downtown', census_tract: '0215.02', address: `${i + 1} Oak Street`, latitude: 41.06, longitude: -73.53 }
    })
    const created = await ok(s, setupP.secret, 'POST', '/v1/incidents', body)
    ;(ids.incidents ??= []).push(created.id)
    fixtures.externalIds.push(`inc-P-${i + 1}`)
    fixtures.incidentInputs[created.id] = { city: 'P', input: body }
  }
  debug('base built')
  fixtures.baseIds = await allIds(db)
  fixtures.basePrefixes = new Set((await query<{ p: string }>(db, sql`SELECT display_prefix AS p FROM api_keys`)).map((r) => r.p))
  // The embedded database is copied before the app closes it.
  const dump = url === undefined ? await (base.database.db as unknown as { $client: PGlite }).$client.dumpDataDir('none') : undefined
  await baseApp.close()

  // The two worlds, copies of the base.
  const stores: Record<Side, Store> = {} as Record<Side, Store>
  if (url !== undefined) {
    await base.database.close()
    for (const side of ['L', 'R'] as const) {
      stores[side] = await pgCopy(`${tag}_base`, `${tag}_${side}`)
      cleanup.unshift(async () => { await pgAdmin(async (c) => { await c.query(`DROP DATABASE IF EXISTS "${tag}_${side}" WITH (FORCE)`) }) })
    }
  } else {
    await base.database.close()
    for (const side of ['L', 'R'] as const) stores[side] = { database: openPglite(await PGlite.create({ loadDataDir: dump as Blob })) }
  }
  const worlds: Worlds = { fixtures, driver: url !== undefined ? 'pg' : 'pglite', personal: { L: {}, R: {} }, forms: { L: {}, R: {} } } as unknown as Worlds
  for (const side of ['L', 'R'] as const) {
    const app = await buildApp({ config, database: stores[side].database }, false)
    await app.ready()
    const world: World = { side, app, database: stores[side].database, ownIds: new Set(), labels: new Map(), byLabel: new Map(), otherCityIds: new Set() }
    worlds[side] = world
    cleanup.unshift(async () => { await app.close(); await stores[side].database.close().catch(() => {}) })
  }
  const setupKeys = { W: setup.W?.secret as string, S: setup.S?.secret as string, B: setup.B?.secret as string, Q: setup.Q?.secret as string }
  debug('worlds copied')
  for (const side of ['L', 'R'] as const) await populateWorld(worlds[side], fixtures, setupKeys, worlds)
  debug('worlds populated')
  worlds.close = async () => { for (const fn of cleanup) await fn().catch((err: Error) => { console.error('cleanup:', err.message) }) }
  return worlds
}
