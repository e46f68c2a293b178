import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { grants } from '../../src/lib/scopes.js'
import { invalidOf, resolverOf, valueOf, type Pools, type Resolver, type Schema } from './arbitrary.js'
import { firstDifference, maskAnswer, type Masked, type RawAnswer } from './mask.js'
import { incidentBody, KEY_KINDS, label, SENTINEL_PATTERNS, stakeholderBody, surveyBody, type KeyKind, type Side, type World, type Worlds } from './worlds.js'

/**
 * Sends the same requests, with the same kind of key, to two worlds that differ only in what that key may
 * not read, and compares what comes back. Requests are generated from each operation's schemas with
 * fast-check (valid and invalid bodies, query strings, path ids of readable and hidden records and random
 * ones), plus the known ways of asking about hidden data (the oracles). Both worlds get every request in the
 * same order, so that if nothing leaks they change in step.
 */

/** `scopes` are the first set the spec names; `alternatives` every set, any one of which admits a key. */
export interface Operation { id: string, method: string, path: string, scopes: string[], alternatives: string[][], spec: Schema }

export function operationsOf (spec: Schema): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, Schema>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || op === null || typeof op.operationId !== 'string') continue
      const security = (op.security as Array<Record<string, string[]>> | undefined) ?? []
      const alternatives = security.map((s) => s.bearer ?? [])
      ops.push({ id: op.operationId, method: method.toUpperCase(), path, scopes: alternatives[0] ?? [], alternatives, spec: op })
    }
  }
  return ops
}

export function loadSpec (): Schema {
  return JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Schema
}

/** A request before it is sent: `@@label` strings are read in each world (ids the run made in step). */
export interface Request {
  op: string
  kind: string
  method: string
  url: string
  headers: Record<string, string>
  body?: { json?: unknown, raw?: string }
  /** The client's address, for the oracle of a key shared by two clients. */
  remoteAddress?: string
  oracle?: string
}

export interface Difference { op: string, kind: string, oracle?: string, request: string, path: string, left: string, right: string, status: [number, number] }
export interface Leak { what: string, op: string, kind: string, side: Side, found: string, request: string }
export interface ServerError { op: string, kind: string, side: Side, status: number, request: string, body: string }

export interface Report {
  seed: number
  driver: string
  tried: Set<string>
  requests: number
  oneSided: number
  differed: number
  differences: Difference[]
  /** Differences by operation × key kind (and oracle), with the first one seen. */
  byPair: Map<string, { count: number, first: Difference }>
  leaks: Leak[]
  leakCounts: Record<string, number>
  serverErrors: ServerError[]
  notProblem: Array<{ op: string, kind: string, status: number, type: string }>
  /** Answers by status (world L), and the operation × key kind pairs allowed by scope that never answered 2xx. */
  statuses: Record<string, number>
  succeeded: Set<string>
  seconds: number
}

export interface RunOptions {
  seed: number
  /** Generated requests per operation and key kind, when the key holds the operation's scopes. */
  perOperation: number
  /** When it does not (every answer should be the same 403). */
  perForbidden: number
  /** A second pass over the reads after the writes. */
  sweep: number
  onlyOps?: RegExp
  onlyKinds?: RegExp
  log?: (line: string) => void
}

const PROBLEM = /^application\/problem\+json/
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

interface Ctx {
  worlds: Worlds
  spec: Schema
  resolver: Resolver
  report: Report
  counter: number
  /** Ids the run made in step, by the resource they belong to. */
  runIds: Map<string, string[]>
  runCount: number
  /** The last next_cursor each world answered, per key kind and operation. */
  cursors: Record<Side, Map<string, string>>
  options: RunOptions
  sentSentinels: Set<string>
}

// ---------------------------------------------------------------------------------------------------------
// Sending to both worlds.

function resolveRefs<T> (value: T, world: World, ctx: Ctx): T {
  const one = (s: string): string => s.replace(/@@(cursor|etag|id):([^@\s"]+)@@/g, (_w, what: string, ref: string) => {
    if (what === 'cursor') return ctx.cursors[world.side].get(ref) ?? 'no-cursor-yet'
    if (what === 'etag') {
      const [name, version] = ref.split('|')
      const id = world.byLabel.get(name as string) ?? name as string
      return `"${id.slice(-12)}-${version}"`
    }
    return world.byLabel.get(ref) ?? ref
  })
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return one(v)
    if (Array.isArray(v)) return v.map(deep)
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]))
    return v
  }
  return deep(value) as T
}

async function inject (world: World, request: Request, ctx: Ctx, requestId: string): Promise<RawAnswer> {
  const resolved = resolveRefs(request, world, ctx)
  const headers: Record<string, string> = { 'x-request-id': requestId, ...resolved.headers }
  let payload: string | undefined
  if (resolved.body?.raw !== undefined) {
    payload = resolved.body.raw
    headers['content-type'] ??= 'application/json'
  } else if (resolved.body !== undefined) {
    payload = JSON.stringify(resolved.body.json)
    headers['content-type'] ??= 'application/json'
  }
  const res = await world.app.inject({
    method: resolved.method as 'GET',
    url: resolved.url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
    ...(resolved.remoteAddress !== undefined ? { remoteAddress: resolved.remoteAddress } : {})
  })
  return { status: res.statusCode, headers: res.headers as RawAnswer['headers'], body: res.body }
}

const describe = (r: Request): string => {
  const body = r.body?.raw ?? (r.body !== undefined ? JSON.stringify(r.body.json) : '')
  const headers = Object.entries(r.headers).filter(([k]) => k !== 'authorization').map(([k, v]) => `${k}: ${v}`).join('; ')
  const text = `${r.method} ${r.url}${headers !== '' ? ` [${headers}]` : ''}${body !== '' ? ` ${body}` : ''}`
  return text.length > 400 ? `${text.slice(0, 397)}...` : text
}

function checkLeaks (answer: RawAnswer, request: Request, world: World, ctx: Ctx): void {
  const text = `${answer.body}\n${JSON.stringify(answer.headers)}`
  const asked = JSON.stringify(resolveRefs(request, world, ctx))
  // A sentinel the run itself sent, as a guess, may come back from wherever the run stored it.
  for (const pattern of Object.values(SENTINEL_PATTERNS)) for (const m of asked.matchAll(pattern)) ctx.sentSentinels.add(m[0])
  const add = (what: string, found: string): void => {
    ctx.report.leakCounts[what] = (ctx.report.leakCounts[what] ?? 0) + 1
    if (ctx.report.leaks.filter((l) => l.what === what && l.op === request.op && l.kind === request.kind).length < 2) {
      ctx.report.leaks.push({ what, op: request.op, kind: request.kind, side: world.side, found, request: describe(request) })
    }
  }
  for (const [what, pattern] of Object.entries(SENTINEL_PATTERNS)) {
    for (const m of text.matchAll(pattern)) {
      if (!asked.includes(m[0]) && !ctx.sentSentinels.has(m[0])) { add(`sentinel:${what}`, m[0]); break }
    }
  }
  const other = ctx.worlds[world.side === 'L' ? 'R' : 'L']
  for (const m of text.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi)) {
    const id = m[0].toLowerCase()
    if (asked.includes(id)) continue
    if (world.otherCityIds.has(id) || other.otherCityIds.has(id)) { add('other-city id', id); break }
    if (world.ownIds.has(id)) { add('hidden record id', id); break }
  }
}

function record (answer: RawAnswer, request: Request, side: Side, ctx: Ctx): void {
  if (answer.status >= 500) {
    ctx.report.serverErrors.push({ op: request.op, kind: request.kind, side, status: answer.status, request: describe(request), body: answer.body.slice(0, 300) })
  }
  const type = String(answer.headers['content-type'] ?? '')
  if (answer.status >= 400 && !PROBLEM.test(type)) ctx.report.notProblem.push({ op: request.op, kind: request.kind, status: answer.status, type })
}

/** Sends one request to both worlds and compares. Answers the masked answers (and the raw ones). */
async function both (request: Request, ctx: Ctx): Promise<{ equal: boolean, left: RawAnswer, right: RawAnswer, masked: [Masked, Masked] }> {
  ctx.counter++
  const requestId = `ni-${ctx.counter}`
  const [left, right] = await Promise.all([inject(ctx.worlds.L, request, ctx, requestId), inject(ctx.worlds.R, request, ctx, requestId)])
  ctx.report.requests++
  ctx.report.tried.add(`${request.op}\u0000${request.kind}`)
  ctx.report.statuses[left.status] = (ctx.report.statuses[left.status] ?? 0) + 1
  if (left.status < 300) ctx.report.succeeded.add(`${request.op} × ${request.kind}`)
  record(left, request, 'L', ctx)
  record(right, request, 'R', ctx)
  checkLeaks(left, request, ctx.worlds.L, ctx)
  checkLeaks(right, request, ctx.worlds.R, ctx)
  const hidden = new Set([...ctx.worlds.L.ownIds, ...ctx.worlds.R.ownIds])
  const askedIn = (world: World): Set<string> => new Set([...JSON.stringify(resolveRefs(request, world, ctx)).matchAll(UUID)].map((m) => m[0].toLowerCase()))
  const ml = maskAnswer(left, { world: ctx.worlds.L, fixtures: ctx.worlds.fixtures, hidden, asked: askedIn(ctx.worlds.L) })
  const mr = maskAnswer(right, { world: ctx.worlds.R, fixtures: ctx.worlds.fixtures, hidden, asked: askedIn(ctx.worlds.R) })
  const diff = firstDifference(ml.masked, mr.masked)
  if (diff !== null) {
    ctx.report.differed++
    const d: Difference = { op: request.op, kind: request.kind, ...(request.oracle !== undefined ? { oracle: request.oracle } : {}), request: describe(request), ...diff, status: [left.status, right.status] }
    if (ctx.report.differences.length < 2000) ctx.report.differences.push(d)
    const key = `${request.op} × ${request.kind}${request.oracle !== undefined ? ` [${request.oracle}]` : ''}`
    const entry = ctx.report.byPair.get(key)
    if (entry === undefined) ctx.report.byPair.set(key, { count: 1, first: d })
    else entry.count++
  } else {
    // Ids both worlds made in step get a common label, so later requests can name them.
    if (request.method !== 'GET' && left.status < 300 && ml.minted.length === mr.minted.length) {
      const resource = resourceOf(request.url)
      for (let i = 0; i < ml.minted.length; i++) {
        const name = `run:${++ctx.runCount}`
        label(ctx.worlds.L, ml.minted[i] as string, name)
        label(ctx.worlds.R, mr.minted[i] as string, name)
        const list = ctx.runIds.get(resource) ?? []
        list.push(name)
        ctx.runIds.set(resource, list)
      }
    }
  }
  for (const side of ['L', 'R'] as const) {
    const answer = side === 'L' ? left : right
    if (answer.status === 200 && request.method === 'GET') {
      try {
        const next = (JSON.parse(answer.body) as { next_cursor?: unknown }).next_cursor
        if (typeof next === 'string') ctx.cursors[side].set(`${request.kind}|${request.op}`, next)
      } catch {}
    }
  }
  return { equal: diff === null, left, right, masked: [ml.masked, mr.masked] }
}

/** A request sent to one world only: what differs between the worlds is that someone else sent it. */
async function oneSided (side: Side, request: Request, ctx: Ctx): Promise<RawAnswer> {
  ctx.counter++
  ctx.report.oneSided++
  const answer = await inject(ctx.worlds[side], request, ctx, `ni-${ctx.counter}`)
  record(answer, request, side, ctx)
  return answer
}

const resourceOf = (url: string): string => {
  const parts = url.split('?')[0]?.split('/').filter((p) => p !== '' && p !== 'v1' && p !== 'batch' && !/^[0-9a-f-]{36}$/i.test(p) && !p.startsWith('@@')) ?? []
  const last = parts[parts.length - 1] ?? ''
  return last === 'responses' ? 'survey-responses' : last === 'updates' ? 'action-updates' : last
}

// ---------------------------------------------------------------------------------------------------------
// Generating requests from the spec.

const PARAM_RESOURCE: Record<string, string> = { responses: 'survey-responses', 'api-keys': 'api-keys', 'audit-events': 'audit-events' }

function idPool (resource: string, ctx: Ctx): string[] {
  const f = ctx.worlds.fixtures
  const protectedIds = f.protectedIds
  const base = (f.ids[resource] ?? []).filter((id) => !protectedIds.has(id))
  const run = (ctx.runIds.get(resource) ?? []).slice(-6).map((l) => `@@id:${l}@@`)
  const forms = resource === 'survey-responses' ? [...ctx.worlds.L.byLabel.keys()].filter((l) => l.startsWith('paper-form:')).map((l) => `@@id:${l}@@`) : []
  const hidden = [...ctx.worlds.L.ownIds, ...ctx.worlds.R.ownIds].slice(0, 40)
  const others = Object.entries(f.ids).filter(([k]) => k !== resource).flatMap(([, v]) => v.slice(0, 1)).filter((id) => !protectedIds.has(id))
  return [...base, ...base, ...run, ...forms, ...hidden, ...others]
}

function pools (resource: string, ctx: Ctx): Pools {
  const f = ctx.worlds.fixtures
  const hiddenExternal = ['SRCB-L-ext-1', 'SRCB-R-ext-1', 'SRCB-L-ext-2', 'XCITY-L-inc-0', 'XCITY-R-inc-0', 'form-W-1', 'form-S-2']
  return {
    ids: () => idPool(resource, ctx),
    externalIds: [...f.externalIds, ...hiddenExternal],
    sources: ['ngo-a', 'ngo-b', 'resident-portal'],
    questionCodes: f.questionCodes,
    optionCodes: f.optionCodes
  }
}

/** A resident's report through the portal's shared key: no external_id. */
function portalReport (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { external_id: _, ...body } = incidentBody('resident-portal', 'none', i, extra)
  return body
}

/** Known-good bodies to start from, per operation: a generated mutation of one is valid far more often. */
function seedsOf (op: Operation, ctx: Ctx): unknown[] {
  const f = ctx.worlds.fixtures
  const st = f.ids.stakeholders ?? []
  const guess = (side: Side, i: number): Record<string, unknown> => Object.values(ctx.worlds.personal[side])[i] ?? {}
  switch (op.id) {
    case 'submitIncidentReport': return [portalReport(0), portalReport(1, guess('L', 0)), { ...portalReport(2), source: 'ngo-a' }, { ...portalReport(3), external_id: 'inc-W-resident-portal-7' }]
    case 'createIncident': return [incidentBody('ngo-a', 'inc-W-ngo-a-1', 0), incidentBody('ngo-a', 'new-report', 1, guess('L', 0)), incidentBody('ngo-b', 'SRCB-L-ext-1', 10), incidentBody('resident-portal', 'inc-W-resident-portal-7', 6)]
    case 'importIncidents': return [[incidentBody('ngo-a', 'inc-W-ngo-a-1', 0, guess('L', 0))], [incidentBody('ngo-a', 'inc-S-ngo-a-2', 1), incidentBody('ngo-b', 'SRCB-R-ext-2', 11)]]
    case 'updateIncident': return [{ status: 'under_review' }, { summary: 'Reviewed.' }, guess('R', 1), { location: { address: null } }]
    case 'createStakeholder': return [stakeholderBody(0, 'st-W-1'), stakeholderBody(1, 'st-new')]
    case 'importStakeholders': return [[{ ...stakeholderBody(0, 'st-W-1'), contact: guess('L', 8).contact ?? null }], [stakeholderBody(2, 'st-S-3')]]
    case 'updateStakeholder': return [{ engagement_level: 'active' }, { contact: { email: 'pii-guess@example.org' } }]
    case 'createStakeholderRelationship': return [{ from_id: st[0], to_id: st[2], type: 'trust', strength: 4 }, { external_id: 'rel-W-1', from_id: st[0], to_id: st[1], type: 'collaboration', strength: 3, since: '2024-01-01' }]
    case 'importStakeholderRelationships': return [[{ external_id: 'rel-W-1', from_external_id: 'st-W-1', to_external_id: 'st-W-2', type: 'collaboration', strength: 3 }]]
    case 'createMeeting': return [{ held_on: '2024-11-01', title: 'Leadership group', kind: 'leadership_group', attendee_ids: st.slice(0, 2) }]
    case 'createProgram': return [{ name: 'Legal clinic', service_types: ['legal_aid'] }, { external_id: 'prog-W-1', name: 'Victim support line 1' }]
    case 'importPrograms': return [[{ external_id: 'prog-W-2', name: 'Victim support line 2' }]]
    case 'createKpi': return [{ code: 'gen-kpi', name: { en: 'Generated' }, unit: 'count', direction: 'decrease', period: 'month', method: 'computed', metric: 'incident_count' }]
    case 'createSurvey': return [surveyBody('Generated survey')]
    case 'submitSurveyResponse': return [{ language: 'en', answers: { neighbourhood: 'downtown', safe: true, story: 'A guess' } }, { language: 'en', answers: { neighbourhood: 'west_side', safe: false } }, { external_id: 'form-W-1', language: 'en', answers: ctx.worlds.forms.L['form-W-1'] ?? {} }]
    case 'importSurveyResponses': return [[{ external_id: 'form-W-1', language: 'en', filled_on: '2024-05-02', answers: ctx.worlds.forms.L['form-W-1'] ?? {} }], [{ external_id: 'form-S-2', language: 'en', answers: ctx.worlds.forms.R['form-S-2'] ?? {} }]]
    case 'createActionPlan': return [{ title: 'Another plan', currency: 'USD' }]
    case 'createGoal': return [{ title: 'A goal' }]
    case 'createObjective': return [{ title: 'An objective' }]
    case 'createAction': return [{ title: 'An action', owner_id: st[0] }]
    case 'recordActionProgress': return [{ status: 'at_risk', progress: 50 }]
    case 'createApiKey': return [{ name: 'generated', scopes: ['incidents:read'] }, { name: 'partner', scopes: ['incidents:write'], sources: ['ngo-b'] }]
    case 'updateCity': return [{ population: 135470 }, { small_cell_threshold: 5 }]
    default: return []
  }
}

function bodySchema (op: Operation): { schema: Schema, types: string[] } | null {
  const content = op.spec.requestBody?.content as Record<string, { schema: Schema }> | undefined
  if (content === undefined) return null
  const types = Object.keys(content)
  const first = content[types[0] as string]
  return first === undefined ? null : { schema: first.schema, types }
}

function requestArbitrary (op: Operation, kind: KeyKind, ctx: Ctx): fc.Arbitrary<Request> {
  const secret = ctx.worlds.fixtures.keys[kind.name]?.secret as string
  const params = (op.spec.parameters as Schema[] | undefined) ?? []
  const pathParams = params.filter((p) => p.in === 'path')
  const queryParams = params.filter((p) => p.in === 'query')
  const segments = op.path.split('/')
  const pathArbs: Record<string, fc.Arbitrary<string>> = {}
  for (const p of pathParams) {
    const at = segments.indexOf(`{${p.name as string}}`)
    const before = segments[at - 1] ?? ''
    const resource = p.name === 'response_id' ? 'survey-responses' : PARAM_RESOURCE[before] ?? before
    if (p.schema?.format === 'uuid') {
      const pool = idPool(resource, ctx)
      pathArbs[p.name] = fc.oneof({ weight: 8, arbitrary: pool.length > 0 ? fc.constantFrom(...pool) : fc.uuid() }, { weight: 2, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.constantFrom('not-a-uuid', '00000000-0000-0000-0000-000000000000', '%2e%2e', 'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ') })
    } else if (p.name === 'name') {
      pathArbs[p.name] = fc.constantFrom('incidents', 'kpis', 'incident-counts', 'survey-responses', 'nope')
    } else {
      pathArbs[p.name] = fc.oneof({ weight: 4, arbitrary: valueOf(p.schema ?? {}, ctx.resolver, pools(resource, ctx), p.name).map(String) }, { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) })
    }
  }
  const queryArbs: Record<string, fc.Arbitrary<string | undefined>> = {}
  for (const p of queryParams) {
    const name = p.name as string
    let value: fc.Arbitrary<string>
    if (name === 'cursor') value = fc.oneof(fc.constant(`@@cursor:${kind.name}|${op.id}@@`), fc.constant(`@@cursor:${kind.name}|${op.id}@@`), fc.string({ maxLength: 20 }))
    else if (name === 'limit') value = fc.oneof(fc.integer({ min: 1, max: 3 }).map(String), fc.constantFrom('0', '201', 'x', '50'))
    else value = fc.oneof({ weight: 5, arbitrary: valueOf(p.schema ?? {}, ctx.resolver, pools(resourceOf(op.path), ctx), name).map((v) => Array.isArray(v) ? v.join(',') : String(v)) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) })
    queryArbs[name] = fc.option(value, { nil: undefined, freq: 2 })
  }
  const body = bodySchema(op)
  let bodyArb: fc.Arbitrary<Request['body'] | undefined> = fc.constant(undefined)
  if (body !== null) {
    const pool = pools(resourceOf(op.path), ctx)
    const valid = valueOf(body.schema, ctx.resolver, pool, '')
    const seeds = seedsOf(op, ctx)
    const choices: Array<fc.WeightedArbitrary<Request['body']>> = [
      { weight: 4, arbitrary: valid.map((json) => ({ json })) },
      { weight: 2, arbitrary: invalidOf(valid, body.schema, ctx.resolver).map((json) => ({ json })) },
      { weight: 1, arbitrary: fc.constantFrom('{"a":', '', 'null', '[]', '{}', '\u0000', '{"__proto__":{"x":1}}').map((raw) => ({ raw })) }
    ]
    if (seeds.length > 0) {
      const resolved = body.schema.$ref !== undefined ? ctx.resolver.resolve(body.schema.$ref) : body.schema
      const itemSchema = resolved.type === 'array' ? (resolved.items?.$ref !== undefined ? ctx.resolver.resolve(resolved.items.$ref) : resolved.items) : resolved
      const props: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, s] of Object.entries((itemSchema?.properties ?? {}) as Record<string, Schema>)) props[k] = valueOf(s, ctx.resolver, pool, k, 1)
      const mutate = fc.tuple(fc.constantFrom(...seeds), fc.record(props, { requiredKeys: [] }), fc.integer({ min: 0, max: 2 })).map(([seed, generated, n]) => {
        const change = Object.fromEntries(Object.entries(generated).slice(0, n))
        const apply = (s: unknown): unknown => s !== null && typeof s === 'object' && !Array.isArray(s) ? { ...s, ...change } : s
        return { json: Array.isArray(seed) ? seed.map(apply) : apply(seed) }
      })
      choices.push({ weight: 6, arbitrary: mutate })
    }
    bodyArb = fc.oneof(...choices)
  }
  const headerArb = fc.record({
    idem: op.method === 'POST' ? fc.option(fc.constantFrom('ni-idem-1', 'ni-idem-2'), { nil: undefined, freq: 3 }) : fc.constant(undefined),
    ifMatch: op.method === 'PATCH' ? fc.oneof(fc.constant('*'), fc.constant('etag'), fc.constant('"bogus-1"'), fc.constant(undefined), fc.constant('etag')) : fc.constant(undefined),
    version: fc.integer({ min: 1, max: 3 }),
    mergePatch: fc.boolean(),
    ndjson: body?.types.includes('application/x-ndjson') === true ? fc.boolean() : fc.constant(false)
  })
  return fc.record({ path: fc.record(pathArbs), query: fc.record(queryArbs), body: bodyArb, h: headerArb }).map(({ path, query, body, h }) => {
    let url = op.path
    for (const [name, value] of Object.entries(path)) url = url.replace(`{${name}}`, value.startsWith('@@') ? value : encodeURIComponent(value))
    const qs = Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${(v as string).startsWith('@@') ? v as string : encodeURIComponent(v as string)}`).join('&')
    const headers: Record<string, string> = {}
    if (op.scopes.length > 0 || op.spec.security !== undefined) headers.authorization = `Bearer ${secret}`
    if (h.idem !== undefined) headers['idempotency-key'] = h.idem
    if (h.ifMatch === 'etag') {
      const id = Object.values(path)[0] ?? ''
      const ref = id.startsWith('@@id:') ? id.slice(5, -2) : id
      headers['if-match'] = `@@etag:${ref}|${h.version}@@`
    } else if (h.ifMatch !== undefined) headers['if-match'] = h.ifMatch
    let b = body
    if (b !== undefined && op.method === 'PATCH' && h.mergePatch) headers['content-type'] = 'application/merge-patch+json'
    if (b?.json !== undefined && h.ndjson && Array.isArray(b.json)) {
      headers['content-type'] = 'application/x-ndjson'
      b = { raw: b.json.map((x) => JSON.stringify(x)).join('\n') }
    }
    return { op: op.id, kind: kind.name, method: op.method, url: qs === '' ? url : `${url}?${qs}`, headers, ...(b !== undefined ? { body: b } : {}) }
  })
}

function seedFor (master: number, ...parts: string[]): number {
  return createHash('sha256').update(`${master}|${parts.join('|')}`).digest().readInt32LE(0)
}

async function generated (op: Operation, kind: KeyKind, count: number, ctx: Ctx, phase: string): Promise<void> {
  if (count <= 0) return
  const samples = fc.sample(requestArbitrary(op, kind, ctx), { seed: seedFor(ctx.options.seed, phase, op.id, kind.name), numRuns: count })
  for (const request of samples) await both(keepCountsInStep(request), ctx)
}

const permitted = (op: Operation, kind: KeyKind): boolean =>
  op.alternatives.length === 0 ? true : op.alternatives.some((set) => set.every((s) => grants(kind.scopes, s)))

/**
 * A write that is not a dry run does not name another source's incident by its external_id (those of city S
 * exist in one world each): it would merge there and create in the other, and from then on the worlds would
 * count different incidents in the city's published aggregates, which are out of this run's scope (see
 * worlds.ts). Dry runs, which write nothing, keep every guess, and so do the oracles.
 */
const HIDDEN_EXTERNAL = /SRCB-([LR])-ext-(\d+)/g
function keepCountsInStep (request: Request): Request {
  if (request.method === 'GET' || request.method === 'DELETE' || /[?&]dry_run=true(&|$)/.test(request.url) || request.body === undefined) return request
  if (request.body.raw !== undefined) return { ...request, body: { raw: request.body.raw.replace(HIDDEN_EXTERNAL, 'guessed-$1-ext-$2') } }
  const text = JSON.stringify(request.body.json)
  if (text === undefined || !/SRCB-[LR]-ext-\d+/.test(text)) return request
  return { ...request, body: { json: JSON.parse(text.replace(HIDDEN_EXTERNAL, 'guessed-$1-ext-$2')) } }
}

/** The probes of a write-only key into records that differ between the worlds (city Q, worlds.ts). */
async function blindOracles (kind: string, auth: Record<string, string>, ctx: Ctx): Promise<void> {
  const batch = async (op: string, url: string, oracle: string, items: unknown[]): Promise<void> => {
    for (const dry of ['?dry_run=true', '?dry_run=true&atomic=true']) {
      await both({ op, kind, oracle, method: 'POST', url: `${url}${dry}`, headers: auth, body: { json: items } }, ctx)
    }
  }
  for (let i = 1; i <= 5; i++) {
    const ext = `inc-W-ngo-a-${i}`
    await batch('importIncidents', '/v1/incidents/batch', 'a partial report under a stored external_id', [{ source: 'ngo-a', external_id: ext, summary: 'A correction' }])
    await batch('importIncidents', '/v1/incidents/batch', 'a whole report without its day', [{ ...incidentBody('ngo-a', ext, i), occurred_on: undefined }])
    await batch('importIncidents', '/v1/incidents/batch', 'a lone latitude', [incidentBody('ngo-a', ext, i, { location: { location_type: '57', latitude: 41.0512 } })])
    await batch('importIncidents', '/v1/incidents/batch', 'a report said not to be online', [incidentBody('ngo-a', ext, i, { online: { is_online: false } })])
    await batch('importIncidents', '/v1/incidents/batch', 'a platform without the place online', [incidentBody('ngo-a', ext, i, { online: { platform: 'forum' } })])
  }
  for (let i = 1; i <= 4; i++) {
    for (const leftOn of ['2023-06-01', '2024-02-15', '2024-05-01']) {
      await batch('importStakeholders', '/v1/stakeholders/batch', `a seat's end (${leftOn})`, [{ external_id: `st-W-${i}`, kind: 'organization', name: 'Probe', category: 'community_organization', leadership_group: { left_on: leftOn } }])
    }
    await batch('importStakeholders', '/v1/stakeholders/batch', 'a person without a kind', [{ external_id: `st-W-${i}`, organization_id: null, title: 'Director' }])
    await batch('importStakeholderRelationships', '/v1/stakeholder-relationships/batch', 'a tie naming stakeholders by external_id', [{ external_id: `rel-probe-${i}`, from_external_id: `st-W-${i}`, to_external_id: 'st-W-1', type: 'trust' }])
  }
  await batch('importStakeholderRelationships', '/v1/stakeholder-relationships/batch', 'a partial tie under a stored external_id', [{ external_id: 'rel-W-1', strength: 5 }])
  await batch('importPrograms', '/v1/programs/batch', 'a partial program under a stored external_id', [{ external_id: 'prog-W-1', description: 'Open on weekends.' }])
  await both({ op: 'createKpi', kind, oracle: 'a KPI code one world uses', method: 'POST', url: '/v1/kpis', headers: auth, body: { json: { code: 'incidents-w', name: { en: 'Reported incidents' }, unit: 'count', direction: 'decrease', period: 'month', method: 'manual' } } }, ctx)
}

// ---------------------------------------------------------------------------------------------------------
// The oracles: the known ways to ask about what one may not read.

async function oracles (ctx: Ctx): Promise<void> {
  const { fixtures, personal, forms } = ctx.worlds
  const kinds = KEY_KINDS.filter((k) => ctx.options.onlyKinds === undefined || ctx.options.onlyKinds.test(k.name))
  const auth = (name: string): Record<string, string> => ({ authorization: `Bearer ${fixtures.keys[name]?.secret as string}` })
  const guesses = (id: string): Array<[string, Record<string, unknown>]> => [
    ['guess = world L', personal.L[id] ?? {}],
    ['guess = world R', personal.R[id] ?? {}],
    ['guess = neither', { narrative: 'PII-guess narrative', reporter: { name: 'A guess', role: 'witness' }, location: { address: '1 Guess Street', latitude: 41.05, longitude: -73.54 } }]
  ]
  const merge = (input: Record<string, unknown>, guess: Record<string, unknown>): Record<string, unknown> => ({
    ...input, ...guess, location: { ...(input.location as object), ...(guess.location as object ?? {}) }
  })
  for (const kind of kinds) {
    const city = fixtures.cities[kind.city]
    const write = (scope: string): boolean => grants(kind.scopes, scope)
    // Re-sending a stored report through the import with guessed personal fields: the outcome (unchanged,
    // updated, rejected) must not depend on whether the guess is right.
    if (write('incidents:write')) {
      const mine = Object.entries(fixtures.incidentInputs).filter(([, v]) => fixtures.cities[v.city] === city)
      for (const [id, { input }] of mine.slice(0, 3)) {
        for (const [name, guess] of guesses(id)) {
          for (const dry of ['?dry_run=true', '?dry_run=true&atomic=true']) {
            await both({ op: 'importIncidents', kind: kind.name, oracle: `re-import, ${name}, dry run`, method: 'POST', url: `/v1/incidents/batch${dry}`, headers: auth(kind.name), body: { json: [merge(input, guess)] } }, ctx)
          }
          await both({ op: 'createIncident', kind: kind.name, oracle: `re-send through POST, ${name}`, method: 'POST', url: '/v1/incidents', headers: { ...auth(kind.name), 'idempotency-key': `ni-oracle-${id}-${name}` }, body: { json: merge(input, guess) } }, ctx)
        }
      }
      // An external_id another source used (in one world only), sent as this key's own source and as theirs.
      for (const source of ['ngo-a', 'ngo-b']) {
        for (const ext of ['SRCB-L-ext-1', 'SRCB-R-ext-2']) {
          await both({ op: 'importIncidents', kind: kind.name, oracle: `external_id of another source (${source})`, method: 'POST', url: '/v1/incidents/batch?dry_run=true', headers: auth(kind.name), body: { json: [incidentBody(source, ext, 10)] } }, ctx)
        }
      }
    }
    if (write('stakeholders:write')) {
      for (const [id, { input }] of Object.entries(fixtures.stakeholderInputs).filter(([, v]) => fixtures.cities[v.city] === city).slice(0, 2)) {
        for (const side of ['L', 'R'] as const) {
          await both({ op: 'importStakeholders', kind: kind.name, oracle: `re-import, contact guess = world ${side}, dry run`, method: 'POST', url: '/v1/stakeholders/batch?dry_run=true', headers: auth(kind.name), body: { json: [{ ...input, ...(personal[side][id] ?? {}) }] } }, ctx)
        }
      }
    }
    // A key that cannot read, in the city whose records differ between the worlds under the external_ids it
    // names: items that could not stand alone, and items valid alone that conflict with what one world stores.
    if (kind.city === 'Q') await blindOracles(kind.name, auth(kind.name), ctx)
    if (write('survey-responses:write') && (kind.city === 'W' || kind.city === 'S')) {
      const survey = fixtures.surveys[kind.city]
      for (const form of [`form-${kind.city}-1`, `form-${kind.city}-2`]) {
        for (const side of ['L', 'R'] as const) {
          const answers = forms[side][form] ?? {}
          await both({ op: 'importSurveyResponses', kind: kind.name, oracle: `paper form again, answers guess = world ${side}, dry run`, method: 'POST', url: `/v1/surveys/${survey}/responses/batch?dry_run=true`, headers: auth(kind.name), body: { json: [{ external_id: form, language: 'en', filled_on: '2024-05-02', answers }] } }, ctx)
          await both({ op: 'submitSurveyResponse', kind: kind.name, oracle: `paper form again through POST, answers guess = world ${side}`, method: 'POST', url: `/v1/surveys/${survey}/responses`, headers: { ...auth(kind.name), 'idempotency-key': `ni-form-${form}-${side}` }, body: { json: { external_id: form, language: 'en', filled_on: '2024-05-02', answers } } }, ctx)
        }
      }
    }
    // PATCH with If-Match: * and with an ETag made from the id and a guessed version.
    const patchable: Array<[string, string]> = [['updateIncident', 'incidents'], ['updateStakeholder', 'stakeholders']]
    for (const [op, resource] of patchable) {
      const ids = (fixtures.ids[resource] ?? []).filter((id) => resource === 'incidents' ? fixtures.cities[fixtures.incidentInputs[id]?.city ?? 'W'] === city : fixtures.cities[fixtures.stakeholderInputs[id]?.city ?? 'W'] === city)
      for (const id of [...ids.slice(0, 2), ...[...ctx.worlds.L.ownIds].slice(0, 1)]) {
        for (const ifMatch of ['*', `"${id.slice(-12)}-1"`, `"${id.slice(-12)}-2"`, `"${id.slice(-12)}-3"`]) {
          await both({ op, kind: kind.name, oracle: `If-Match ${ifMatch === '*' ? '*' : 'made from id and version'}`, method: 'PATCH', url: `/v1/${resource}/${id}`, headers: { ...auth(kind.name), 'if-match': ifMatch }, body: { json: {} } }, ctx)
        }
      }
    }
  }
  // Idempotency-Key replays across keys: another key used the same Idempotency-Key in world L only.
  const probe = [incidentBody('ngo-a', 'idem-probe', 2)]
  await oneSided('L', { op: 'importIncidents', kind: 'idempotency-other-key', method: 'POST', url: '/v1/incidents/batch?dry_run=true', headers: { ...auth('idempotency-other-key'), 'idempotency-key': 'ni-cross-key' }, body: { json: probe } }, ctx)
  for (const body of [probe, [incidentBody('ngo-a', 'idem-probe-2', 3)]]) {
    await both({ op: 'importIncidents', kind: 'idempotency-this-key', oracle: 'Idempotency-Key another key used', method: 'POST', url: '/v1/incidents/batch?dry_run=true', headers: { ...auth('idempotency-this-key'), 'idempotency-key': 'ni-cross-key' }, body: { json: body } }, ctx)
  }
  // A resident portal's key, shared by every resident who submits through it: another client's requests
  // against this client's answers. Its Idempotency-Keys are spaced by body (the same body replays, by design,
  // what its sender already knows), so what is asked is whether another client's use of an Idempotency-Key
  // shows through a request of one's own with that key and another body. The other client's submission is
  // made in both worlds, with that Idempotency-Key in world L only, so both worlds hold the same records.
  const shared = auth('shared-by-two-clients')
  const surveyW = fixtures.surveys.W
  const submits: Array<{ op: string, url: string, body: (i: number) => Record<string, unknown> }> = [
    { op: 'submitIncidentReport', url: '/v1/incident-reports', body: (i) => portalReport(i) },
    { op: 'submitSurveyResponse', url: `/v1/surveys/${surveyW}/responses`, body: (i) => ({ language: 'en', answers: { neighbourhood: ['downtown', 'west_side', 'south_end'][i % 3], safe: i % 2 === 0 } }) }
  ]
  for (const [n, submit] of submits.entries()) {
    // What the other client was told, per world: its receipt's id is no business of this client's, though
    // it is minted in each world and so compared masked, so it is looked for in this client's answer.
    const theirs: Record<Side, string | null> = { L: null, R: null }
    for (const side of ['L', 'R'] as const) {
      const answer = await oneSided(side, { op: submit.op, kind: 'shared-by-two-clients', method: 'POST', url: submit.url, headers: { ...shared, 'idempotency-key': side === 'L' ? `ni-shared-client-${n}` : `ni-shared-client-${n}-other` }, body: { json: submit.body(4) }, remoteAddress: '127.0.0.2' }, ctx)
      theirs[side] = answer.status === 201 ? (JSON.parse(answer.body) as { id?: string }).id ?? null : null
    }
    const request: Request = { op: submit.op, kind: 'shared-by-two-clients', oracle: 'Idempotency-Key the other client of a shared key used', method: 'POST', url: submit.url, headers: { ...shared, 'idempotency-key': `ni-shared-client-${n}` }, body: { json: submit.body(5) }, remoteAddress: '127.0.0.1' }
    const { left, right } = await both(request, ctx)
    for (const [side, answer] of [['L', left], ['R', right]] as const) {
      const id = theirs[side]
      if (id === null || !`${answer.body}\n${JSON.stringify(answer.headers)}`.includes(id)) continue
      ctx.report.leakCounts['another client\'s submission'] = (ctx.report.leakCounts['another client\'s submission'] ?? 0) + 1
      ctx.report.leaks.push({ what: 'another client\'s submission', op: request.op, kind: request.kind, side, found: id, request: describe(request) })
    }
  }
  // Its allowance: the other client's reads (world L only) must not show in this client's answers.
  for (let i = 0; i < 3; i++) await oneSided('L', { op: 'getSurvey', kind: 'shared-by-two-clients', method: 'GET', url: `/v1/surveys/${surveyW}`, headers: shared, remoteAddress: '127.0.0.2' }, ctx)
  await both({ op: 'getSurvey', kind: 'shared-by-two-clients', oracle: 'RateLimit-* of a key the other client also uses', method: 'GET', url: `/v1/surveys/${surveyW}`, headers: shared, remoteAddress: '127.0.0.1' }, ctx)
  await both({ op: 'submitIncidentReport', kind: 'shared-by-two-clients', oracle: 'RateLimit-* of a key the other client also uses', method: 'POST', url: '/v1/incident-reports', headers: shared, body: { json: portalReport(6) }, remoteAddress: '127.0.0.1' }, ctx)
}

// ---------------------------------------------------------------------------------------------------------

export async function run (worlds: Worlds, options: RunOptions): Promise<Report> {
  const started = Date.now()
  const spec = loadSpec()
  const report: Report = { seed: options.seed, driver: worlds.driver, tried: new Set(), requests: 0, oneSided: 0, differed: 0, differences: [], byPair: new Map(), leaks: [], leakCounts: {}, serverErrors: [], notProblem: [], statuses: {}, succeeded: new Set(), seconds: 0 }
  const ctx: Ctx = { worlds, spec, resolver: resolverOf(spec), report, counter: 0, runIds: new Map(), runCount: 0, cursors: { L: new Map(), R: new Map() }, options, sentSentinels: new Set() }
  const log = options.log ?? (() => {})
  const ops = operationsOf(spec).filter((op) => options.onlyOps === undefined || options.onlyOps.test(op.id))
  const kinds = KEY_KINDS.filter((k) => options.onlyKinds === undefined || options.onlyKinds.test(k.name))
  // Every key is used once in both worlds before anything is compared, and its first-use bookkeeping
  // (last_used_at, written off the request's path) is let to settle.
  for (const name of Object.keys(worlds.fixtures.keys)) {
    for (const side of ['L', 'R'] as const) await worlds[side].app.inject({ method: 'GET', url: '/v1/taxonomies/location-types', headers: { authorization: `Bearer ${worlds.fixtures.keys[name]?.secret as string}` } })
  }
  await new Promise((resolve) => setTimeout(resolve, 300))
  const phase = async (name: string, select: (op: Operation) => boolean, scale: number): Promise<void> => {
    const t0 = Date.now()
    const before = report.requests
    for (const kind of kinds) {
      for (const op of ops.filter(select)) {
        const count = permitted(op, kind) ? options.perOperation : options.perForbidden
        await generated(op, kind, Math.max(permitted(op, kind) ? 1 : 0, Math.round(count * scale)), ctx, name)
      }
    }
    log(`phase ${name}: ${report.requests - before} requests, ${((Date.now() - t0) / 1000).toFixed(1)} s, ${report.differed} differed so far`)
  }
  await phase('reads', (op) => op.method === 'GET', 1)
  const t0 = Date.now()
  const before = report.requests
  await oracles(ctx)
  log(`phase oracles: ${report.requests - before} requests, ${((Date.now() - t0) / 1000).toFixed(1)} s, ${report.differed} differed so far`)
  await phase('writes', (op) => op.method !== 'GET' && op.method !== 'DELETE', 1)
  await phase('deletes', (op) => op.method === 'DELETE', 0.5)
  await phase('reads again', (op) => op.method === 'GET', options.sweep)
  report.seconds = (Date.now() - started) / 1000
  return report
}

export function summary (report: Report, operations: number, kinds: number): string[] {
  const lines: string[] = []
  const leaks = Object.values(report.leakCounts).reduce((a, b) => a + b, 0)
  lines.push(`seed ${report.seed} on ${report.driver} (replay: NI_SEED=${report.seed})`)
  lines.push(`operations × key kinds tried: ${report.tried.size} (${operations} operations in the spec × ${kinds} key kinds, plus the oracles' own keys)`)
  lines.push(`requests sent to both worlds: ${report.requests} (and ${report.oneSided} to one world only, as the oracles' other party)`)
  lines.push(`answers by status (world L): ${Object.entries(report.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}`)
  lines.push(`operation × key kind pairs answered 2xx at least once: ${report.succeeded.size}`)
  lines.push(`answers that differed: ${report.differed}, in ${report.byPair.size} operation × key kind pairs`)
  for (const [pair, { count, first }] of [...report.byPair.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    lines.push(`  ${pair}: ${count} differed; first at ${first.path}: L ${first.left} | R ${first.right} (status ${first.status[0]}/${first.status[1]})`)
    lines.push(`      request: ${first.request}`)
  }
  lines.push(`leaks: ${leaks} (${Object.entries(report.leakCounts).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'})`)
  for (const l of report.leaks.slice(0, 30)) lines.push(`  ${l.what} in ${l.op} × ${l.kind} (world ${l.side}): ${l.found}  <- ${l.request}`)
  const crossCity = (report.leakCounts['other-city id'] ?? 0) + (report.leakCounts['sentinel:otherCity'] ?? 0)
  lines.push(`cross-city leaks: ${crossCity}`)
  lines.push(`5xx answers: ${report.serverErrors.length}`)
  for (const e of report.serverErrors.slice(0, 15)) lines.push(`  ${e.status} ${e.op} × ${e.kind} (world ${e.side}): ${e.body}  <- ${e.request}`)
  lines.push(`non-2xx answers that are not application/problem+json: ${report.notProblem.length}`)
  for (const e of report.notProblem.slice(0, 5)) lines.push(`  ${e.status} ${e.op} × ${e.kind}: ${e.type}`)
  lines.push(`run time: ${report.seconds.toFixed(1)} s`)
  return lines
}
