import { createDecipheriv } from 'node:crypto'
import type { Fixtures, World } from './worlds.js'

/**
 * Makes two worlds' answers comparable: what the run itself mints differs between worlds whatever the app
 * does (the ids of records made during the run, timestamps), and is replaced by what it stands for. Nothing
 * else is touched: ids of the base stay as they are, ids that exist in one world only stay as they are (so
 * that one reaching an answer is a difference), and ids of records both worlds made in step get a common label.
 */

export interface RawAnswer { status: number, headers: Record<string, string | string[] | number | undefined>, body: string }
export interface Masked { status: number, headers: Record<string, string>, body: unknown }

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const TIME = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::?\d{2})?)?/g
const MINTED = '⦃M'
const MINTED_TOKEN = /⦃M([0-9a-f-]{36})⦄/g

/** Headers that carry the moment or the transport, not the answer. */
const IGNORED_HEADERS = new Set(['date', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'ratelimit-reset', 'x-request-id'])
const TIMED_HEADERS = new Set(['retry-after'])

export interface MaskContext {
  world: World
  fixtures: Fixtures
  /** Ids that exist in one world only, of either world: kept as they are, wherever they appear. */
  hidden: Set<string>
  /** Ids the request itself named: an answer that repeats them tells nothing. */
  asked: Set<string>
}

function classify (id: string, ctx: MaskContext): string {
  const lower = id.toLowerCase()
  const label = ctx.world.labels.get(lower)
  if (label !== undefined) return `<${label}>`
  if (ctx.fixtures.baseIds.has(lower) || ctx.hidden.has(lower) || ctx.asked.has(lower)) return lower
  return `${MINTED}${lower}⦄`
}

/** A key made during the run: its secret, and the display prefix of it, are random. */
const KEY_SECRET = /coh_[A-Za-z0-9_-]+/g

function maskString (value: string, ctx: MaskContext): string {
  return value.replace(UUID, (id) => classify(id, ctx)).replace(TIME, '<time>')
    .replace(KEY_SECRET, (secret) => ctx.fixtures.basePrefixes.has(secret) ? secret : '<new key secret>')
}

/**
 * A keyset cursor is its position sealed with AES-256-GCM: the harness, which holds the worlds' one encryption
 * key, reads the position (without checking the tag, which binds the city and the list) and compares it, masked.
 * Layout: format byte | nonce (12) | tag (16) | ciphertext.
 */
function maskCursor (cursor: string, ctx: MaskContext): unknown {
  try {
    const sealed = Buffer.from(cursor, 'base64url')
    if (sealed[0] !== 1 || sealed.length < 30) return { cursor: '<unreadable>' }
    const plain = createDecipheriv('aes-256-gcm', ctx.fixtures.cursorKey, sealed.subarray(1, 13)).update(sealed.subarray(29)).toString('utf8')
    const position: unknown = JSON.parse(plain)
    if (Array.isArray(position) && Number.isSafeInteger(position[0]) && typeof position[1] === 'string' && position.length === 2) {
      // A change-feed position: the writing transaction's id counts every transaction of the cluster, the
      // harness's own among them (on PostgreSQL both worlds share one cluster), so it is not compared.
      return { cursor: ['<xid>', walk(position[1], ctx, '')] }
    }
    return { cursor: walk(position, ctx, '') }
  } catch {
    return { cursor: '<unreadable>' }
  }
}

function walk (value: unknown, ctx: MaskContext, key: string): unknown {
  if (typeof value === 'string') {
    if (key === 'next_cursor' || key === 'cursor') return maskCursor(value, ctx)
    return maskString(value, ctx)
  }
  if (Array.isArray(value)) return canonicalOrder(value.map((v) => walk(v, ctx, '')), value)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[maskString(k, ctx)] = walk(v, ctx, k)
    return out
  }
  return value
}

const mintedOrOwnId = (original: unknown, masked: unknown): string | null => {
  if (original === null || typeof original !== 'object' || Array.isArray(original)) return null
  const id = (original as { id?: unknown }).id
  const shown = (masked as { id?: unknown }).id
  if (typeof id !== 'string' || typeof shown !== 'string') return null
  // Base ids were made one at a time while building; only ids made during the run come in bursts.
  return shown === id && !/^<|⦃/.test(shown) ? null : id
}

/**
 * UUIDv7 orders ids made in one millisecond by their random part, and where a burst of them (a batch, the
 * audit events of one write) crosses from one millisecond to the next differs between worlds, so such
 * records come in an order of chance in each world; whether two requests fall in one millisecond is chance
 * too. Within a run of neighbours the run minted, items are put in the order of their masked text.
 */
function canonicalOrder (masked: unknown[], original: unknown[]): unknown[] {
  const out = [...masked]
  let start = 0
  while (start < out.length) {
    let id = mintedOrOwnId(original[start], out[start])
    let end = start + 1
    if (id !== null) {
      while (end < out.length) {
        const next = mintedOrOwnId(original[end], out[end])
        if (next === null) break
        id = next
        end++
      }
      if (end - start > 1) {
        const group = out.slice(start, end).sort((a, b) => keyOf(a).localeCompare(keyOf(b)))
        out.splice(start, end - start, ...group)
      }
    }
    start = end
  }
  return out
}

const keyOf = (v: unknown): string => JSON.stringify(v).replace(MINTED_TOKEN, '<new>')

/** Text bodies (CSV, NDJSON) line by line, with the same treatment of neighbours made in one millisecond. */
function maskText (text: string, ctx: MaskContext, ndjson: boolean): unknown {
  const lines = text.split('\n')
  if (ndjson) {
    const parsed = lines.filter((l) => l !== '').map((l) => { try { return JSON.parse(l) as unknown } catch { return l } })
    return { ndjson: walk(parsed, ctx, '') }
  }
  const masked = lines.map((l) => maskString(l, ctx))
  const firstId = (line: string): string | null => { const m = /⦃M([0-9a-f-]{36})⦄/.exec(line) ?? /\b([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})\b/.exec(line); return m?.[1] ?? null }
  const out = [...masked]
  let start = 0
  while (start < out.length) {
    let id = firstId(out[start] as string)
    let end = start + 1
    if (id !== null && !ctx.fixtures.baseIds.has(id)) {
      while (end < out.length) {
        const next = firstId(out[end] as string)
        if (next === null || ctx.fixtures.baseIds.has(next)) break
        id = next
        end++
      }
      if (end - start > 1) out.splice(start, end - start, ...out.slice(start, end).sort((a, b) => a.replace(MINTED_TOKEN, '<new>').localeCompare(b.replace(MINTED_TOKEN, '<new>'))))
    }
    start = end
  }
  return { text: out }
}

/** A suffix index of the ids a world knows, to read an ETag (`"<last 12 of the id>-<version>"`). */
function etagIds (ctx: MaskContext, minted: string[]): Map<string, string> {
  const index = new Map<string, string>()
  for (const id of minted) index.set(id.slice(-12), `${MINTED}${id}⦄`)
  return index
}

function maskEtag (value: string, ctx: MaskContext, minted: string[]): string {
  return value.replace(/"([0-9a-f]{12})-(\d+)"/g, (whole, suffix: string, version: string) => {
    const known = etagIds(ctx, minted).get(suffix)
    if (known !== undefined) return `"${known}-${version}"`
    for (const [id, label] of ctx.world.labels) if (id.endsWith(suffix)) return `"<${label}>-${version}"`
    for (const id of ctx.fixtures.baseIds) if (id.endsWith(suffix)) return whole
    for (const id of ctx.hidden) if (id.endsWith(suffix)) return whole
    for (const id of ctx.asked) if (id.endsWith(suffix)) return whole
    return `"<unknown-id>-${version}"`
  })
}

export interface MaskResult { masked: Masked, minted: string[] }

export function maskAnswer (answer: RawAnswer, ctx: MaskContext): MaskResult {
  const type = String(answer.headers['content-type'] ?? '')
  let body: unknown
  if (answer.body === '') body = ''
  else if (/json/.test(type) && !/ndjson/.test(type)) {
    try { body = walk(JSON.parse(answer.body), ctx, '') } catch { body = { unparsable: maskString(answer.body, ctx) } }
  } else body = maskText(answer.body, ctx, /ndjson/.test(type))
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(answer.headers)) {
    if (IGNORED_HEADERS.has(name) || value === undefined) continue
    const text = Array.isArray(value) ? value.join(', ') : String(value)
    headers[name] = TIMED_HEADERS.has(name) ? '<seconds>' : maskString(text, ctx)
  }
  // Number the ids the run minted by their first appearance, body first, then headers.
  const text = JSON.stringify({ body, headers })
  const minted: string[] = []
  for (const m of text.matchAll(MINTED_TOKEN)) if (!minted.includes(m[1] as string)) minted.push(m[1] as string)
  if (headers.etag !== undefined) headers.etag = maskEtag(headers.etag, ctx, minted)
  const numbered = JSON.parse(JSON.stringify({ body, headers }).replace(MINTED_TOKEN, (_w, id: string) => {
    let n = minted.indexOf(id)
    if (n < 0) { minted.push(id); n = minted.length - 1 }
    return `<new#${n + 1}>`
  })) as { body: unknown, headers: Record<string, string> }
  return { masked: { status: answer.status, headers: numbered.headers, body: numbered.body }, minted }
}

/** The first place where two masked answers differ, as a path and both values (shortened). */
export function firstDifference (a: unknown, b: unknown, path = ''): { path: string, left: string, right: string } | null {
  if (a === b) return null
  const short = (v: unknown): string => { const s = JSON.stringify(v) ?? String(v); return s.length > 160 ? `${s.slice(0, 157)}...` : s }
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return { path: path || '/', left: short(a), right: short(b) }
  if (Array.isArray(a) !== Array.isArray(b)) return { path: path || '/', left: short(a), right: short(b) }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return { path: `${path}/${i}`, left: short(a[i]), right: short(b[i]) }
      const d = firstDifference(a[i], b[i], `${path}/${i}`)
      if (d !== null) return d
    }
    return null
  }
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  for (const k of [...new Set([...ka, ...kb])]) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k}`)
    if (d !== null) return d
  }
  return null
}
