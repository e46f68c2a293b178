import type { FastifyInstance } from 'fastify'
import Type, { type Static, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { stringify as canonicalJson } from 'safe-stable-stringify'
import type { Executor } from '../db/client.js'
import type { Caller } from '../plugins/auth.js'
import { changedFields, type AuditActor } from './audit.js'
import { bulkUpsert, type BulkRow, type BulkTable, type Written } from './bulk-upsert.js'
import { hmacHex } from './crypto.js'
import { localDate } from './dates.js'
import { newId } from './ids.js'
import { applyMergePatch, type JsonObject } from './merge-patch.js'
import { UnparsableItem } from './ndjson.js'
import type { PersonalData, SealedRecord } from './personal-data.js'
import { Int, OrNull, Uuid } from './schemas.js'
import { ProblemError, type FieldError } from './problems.js'
import { grants } from './scopes.js'
import { fieldErrors } from './validation.js'

/** The most items one batch request may hold. */
export const BATCH_MAX = 1000

/** The message of an item refused because it met a concurrent write; the same request sent again succeeds. */
export const CONCURRENT = 'was being written concurrently; send it again'

/** How often items that met a concurrent write are looked up and merged again before they are refused. */
const ROUNDS = 3

export const BatchQuery = Type.Object({
  atomic: Type.Optional(Type.Boolean({ default: false, description: 'All or nothing: any rejected item rejects the batch (422) and nothing is written.' })),
  dry_run: Type.Optional(Type.Boolean({ default: false, description: 'Validate and report outcomes; write nothing.' }))
}, { additionalProperties: false })

/** The answer of every batch import: a summary and one outcome per item, in order. */
/** The outcome of one imported item; `max` bounds the index (a batch's size by default). */
export const ItemOutcomeSchema = (max = BATCH_MAX) => Type.Object({
  index: Int({ minimum: 0, maximum: max - 1, description: 'Position in the request.' }),
  id: OrNull(Uuid()),
  external_id: OrNull(Type.String({ maxLength: 200 })),
  outcome: Type.Enum(['created', 'updated', 'unchanged', 'accepted', 'rejected'], {
    description: '`accepted`: written, to a key that cannot read what it wrote into — whether a record was there before is not told, nor its id.'
  }),
  problems: Type.Array(Type.Object({
    path: Type.String({ maxLength: 500 }),
    message: Type.String({ maxLength: 500 })
  }, { additionalProperties: false }), { maxItems: 100 })
}, { additionalProperties: false })

/** The counts of each outcome of an import of at most `max` items. */
export const SummarySchema = (max = BATCH_MAX) => Type.Object({
  created: Int({ minimum: 0, maximum: max }),
  updated: Int({ minimum: 0, maximum: max }),
  unchanged: Int({ minimum: 0, maximum: max }),
  accepted: Int({ minimum: 0, maximum: max }),
  rejected: Int({ minimum: 0, maximum: max })
}, { additionalProperties: false })

export const BatchResult = (id: string) => Type.Object({
  dry_run: Type.Boolean(),
  summary: SummarySchema(),
  items: Type.Array(ItemOutcomeSchema(), { maxItems: BATCH_MAX })
}, { $id: id, additionalProperties: false })

export type ItemOutcome = Static<ReturnType<typeof BatchResult>>['items'][number]

/** A stored record as an import sees it: its identity, version and content hash, and its sealed personal data if it has any. */
export interface StoredRecord extends Partial<Omit<SealedRecord, 'cityId' | 'id'>> { cityId: string, id: string, version: number, contentHash: string }

/** A row to write: the prepared draft, its sealed personal data, the hash of the body it came from. */
export interface ImportRow<D> extends BulkRow {
  draft: D
  contentHash: string
  personalData: Buffer | null
  dataKey: Buffer | null
}

/**
 * What a resource hands the batch module: its item schema, its natural key, how a stored record reads as
 * input, its rules (prepare), its personal data, and its table. The pipeline — validation, duplicates within a
 * request, look-up of what exists, merge, sealing, one set-based write with its audit, per-item outcomes,
 * dry_run, atomic, retries after concurrent writes — is the same for every resource.
 */
export interface Importable<B extends JsonObject, R extends StoredRecord, D, P> {
  /** The audit's object type and action prefix: 'incident' gives incident.created and incident.updated. */
  kind: string
  schema: TSchema
  /** The item's natural key within the city (null: the item has none and always creates). */
  keyOf: (body: B) => string | null
  keyOfRow: (row: R) => string
  externalIdOf: (body: B) => string | null
  /**
   * The scope that reads what an item may meet under its natural key (records other keys wrote). A key without
   * it is told `accepted` for a keyed item that was written, created or merged alike, and no id: what it learns
   * depends only on what it sent. Without one, a natural key only ever meets the sending key's own records.
   * A resource with `references` is never imported blind: its batch route needs this scope too (import-routes).
   */
  readScope?: string
  /**
   * Fields that name other records (by id or external_id), with the scope that reads those records. A key
   * without that scope may not send them: whether the item is refused would tell it whether such a record
   * exists, or what it is.
   */
  names?: readonly Naming[]
  /** A refusal particular to the caller (a partner's key limited to its sources), or null. */
  refuse?: (caller: Caller, body: B) => FieldError | null
  /** The stored records under these bodies' keys, whole, in one query. */
  find: (db: Executor, cityId: string, bodies: B[]) => Promise<R[]>
  /** A stored record as the input that would produce it, personal data included. */
  toInput: (row: R, personal: P | null) => B
  /** A stored record with an import merged in; by default a JSON Merge Patch. */
  merge?: (stored: B, body: B) => B
  /** The resource's rules: the draft to store, or the problems (paths relative to the item). */
  prepare: (input: B, request: ImportRequest) => { draft: D, problems: [] } | { draft: null, problems: FieldError[] }
  /**
   * Checks, for all the drafts of a request at once, what the rules cannot see alone: references to other
   * records of the city (an organisation, the two ends of a tie). It may complete the drafts (an id found from
   * an external_id). Returns the problems of each draft (paths relative to the item), or null where none.
   */
  references?: (db: Executor, cityId: string, drafts: D[]) => Promise<Array<FieldError[] | null>>
  /**
   * A resource with personal fields: the part of a draft to seal with the record (null: none), how, and the
   * input's personal fields (dotted paths), which an update's audit event never names.
   */
  personal?: { of: (draft: D) => P | null, data: PersonalData<P>, fields: readonly string[] }
  table: BulkTable<ImportRow<D>>
  /**
   * Records that an import never changes once stored (a survey response): an item under a stored key with
   * other content is refused with this message instead of merged. Its table is `insertOnly`.
   */
  fixed?: string
  /**
   * Writes what the rows just written hold in other tables (a response's answers), set-based, in the
   * transaction of their write: the rows and what belongs to them commit together.
   */
  written?: (db: Executor, cityId: string, rows: Array<ImportRow<D>>) => Promise<void>
  /** Audit details of a written row besides the field names an update set: names and ids, never values. */
  auditDetails?: (row: ImportRow<D>) => Record<string, unknown>
}

export interface ImportOptions {
  /** Batches need a natural key on every item, so re-running them can find what they wrote. */
  requireKey: boolean
  atomic: boolean
  dryRun: boolean
  /** The problem answered when an atomic request holds an invalid item: 422 for a batch, 400 for one object. */
  rejectedAs: 'unprocessable' | 'validation_failed'
  /** Request part in problem paths: "body" for one object, "body/<index>" for a batch item. */
  pathOf: (index: number) => string
  /**
   * Called inside the transaction of the last write, when every item has its outcome: the request's answer
   * is stored there, so that the writes and the answer a retry replays commit together. Without it, no
   * transaction is opened: the write is one statement.
   */
  answer?: (tx: Executor, result: ImportResult<never>) => Promise<void>
  /** Whether the written rows come back whole (one object, answered with it), or only their ids. */
  returnRows?: boolean
  /**
   * A transaction of the caller's that every read and write of the import joins (an import of several
   * resources that commits or fails as one); without it, the app's pool.
   */
  db?: Executor
}

export interface ImportResult<R> { items: ItemOutcome[], written: Array<Written<R>>, answered: boolean }

interface Valid<B> { index: number, body: B, key: string | null, contentHash: string }

const validators = new WeakMap<TSchema, ReturnType<typeof Compile>>()
const validatorOf = (schema: TSchema) => {
  let validator = validators.get(schema)
  if (validator === undefined) validators.set(schema, validator = Compile(schema))
  return validator
}

/**
 * The keyed hash of an item as one API key sent it: the same item sent again by the same key is recognised as
 * unchanged without reading what is stored. Its members are taken in sorted order (key order does not change
 * what an item says). Keyed, so that the hash of an item with a phone number in it cannot be tested against
 * guesses; and bound to the sending key, so that an outcome compares what a key sends only with what that key
 * sent before: another key re-sending a record with guessed personal fields is answered `updated` whether its
 * guess is right or wrong, and learns nothing of what is stored.
 */
export const contentHashOf = (body: unknown, hashKey: Buffer, sentBy: string): string => hmacHex(hashKey, `${sentBy}\n${canonicalJson(body) ?? 'null'}`)

/**
 * Validates, merges, seals and upserts items, set-based: one query to find what exists, one statement to write
 * and audit everything. Bad items are reported and do not block good ones, unless `atomic`.
 *
 * An item with a natural key is an import: merged into the stored record as a JSON Merge Patch (fields it omits
 * keep their stored values, personal ones included; null clears one), so a partner or a spreadsheet re-sending
 * what it knows never erases what the city added.
 */
/**
 * What every item of one import is judged by: who imports, and the clock, read once for the request, with the
 * calendar day it makes in the city (what "in the future" means for a date).
 */
export interface ImportRequest { caller: Caller, now: Date, today: string }

export async function importItems<B extends JsonObject, R extends StoredRecord, D, P> (app: FastifyInstance, caller: Caller, actor: AuditActor,
  resource: Importable<B, R, D, P>, raw: unknown[], options: ImportOptions): Promise<ImportResult<R>> {
  const check = validatorOf(resource.schema)
  const db = options.db ?? app.db
  // A key that cannot read what its keyed items may meet is answered by what it sent alone (blindOutcomes).
  const blind = resource.readScope !== undefined && !grants(caller.scopes, resource.readScope) ? new Set<number>() : null
  if (blind !== null && options.answer !== undefined) {
    const answer = options.answer
    options = { ...options, answer: async (tx, done) => { blindOutcomes(done.items, blind); await answer(tx, done) } }
  }
  const hashKey = app.subkey(`${resource.kind}-content`)
  const result: ImportResult<R> = { items: [], written: [], answered: false }
  // Items refused for what the key may not name: one object refused for it alone is a 403.
  const forbidden = new Set<number>()
  const valid: Array<Valid<B>> = []
  const seen = new Map<string, number>()
  const now = new Date()
  const request: ImportRequest = { caller, now, today: localDate(now, caller.city.timezone) }

  raw.forEach((value, index) => {
    const part = options.pathOf(index)
    const reject = (problems: FieldError[]): void => { result.items[index] = { index, id: null, external_id: externalIdOf(value), outcome: 'rejected', problems } }
    if (value instanceof UnparsableItem) return reject([{ path: `/${part}`, message: value.message }])
    if (!check.Check(value)) return reject(fieldErrors([...check.Errors(value)], part))
    const body = value as B
    const refusal = resource.refuse?.(caller, body)
    if (refusal != null) return reject([{ ...refusal, path: `/${part}${refusal.path}` }])
    const naming = namesWithout(caller, resource.names, body)
    if (naming.length > 0) { forbidden.add(index); return reject(naming.map((p) => ({ ...p, path: `/${part}${p.path}` }))) }
    const key = resource.keyOf(body)
    if (options.requireKey && key === null) return reject([{ path: `/${part}/external_id`, message: 'is required in a batch' }])
    if (key !== null) blind?.add(index)
    if (key !== null) {
      const first = seen.get(key)
      if (first !== undefined) return reject([{ path: `/${part}/external_id`, message: `repeats item ${first} of this batch (the same key)` }])
      seen.set(key, index)
    }
    valid.push({ index, body, key, contentHash: contentHashOf(body, hashKey, caller.keyId) })
  })

  // With atomic=true, items refused before anything is looked up refuse the request here when no item is left.
  if (valid.length === 0) refuseIfAtomic(result, raw.length, options, new Set(), forbidden)
  const byIndex = new Map(valid.map((v) => [v.index, v]))
  // Items refused for what they refer to (not for their own shape) are 422 when one object is refused as a whole.
  const unreferenced = new Set<number>()
  let pending = valid
  for (let round = 0; round < ROUNDS && pending.length > 0; round++) {
    const keyed = pending.filter((v) => v.key !== null)
    const stored = new Map((await resource.find(db, caller.cityId, keyed.map((v) => v.body))).map((row) => [resource.keyOfRow(row), row]))
    const rows: Array<ImportRow<D> & { index: number, isNew: boolean, change: ReturnType<typeof changedFields> | null }> = []
    for (const item of pending) {
      const found = item.key !== null ? stored.get(item.key) : undefined
      const part = options.pathOf(item.index)
      const externalId = resource.externalIdOf(item.body)
      if (found !== undefined && found.contentHash === item.contentHash) {
        result.items[item.index] = { index: item.index, id: found.id, external_id: externalId, outcome: 'unchanged', problems: [] }
        continue
      }
      const reject = (problems: FieldError[]): void => { result.items[item.index] = { index: item.index, id: found?.id ?? null, external_id: externalId, outcome: 'rejected', problems } }
      if (found !== undefined && resource.fixed !== undefined) {
        // Refused for what is stored, not for its own shape: one object refused for it is a 422, like a reference.
        unreferenced.add(item.index)
        reject([{ path: `/${part}`, message: resource.fixed }])
        continue
      }
      const judged = judge(resource, found, item.body, blind?.has(item.index) === true, request)
      if (judged === 'unreadable') {
        reject([{ path: `/${part}`, message: `the stored personal data of this ${resource.kind} fails its integrity check; erase it before importing it again` }])
        continue
      }
      const { input, storedInput, prepared } = judged
      if (prepared.draft === null) {
        reject(prepared.problems.map((p) => ({ ...p, path: `/${part}${p.path}` })))
        continue
      }
      const draft = prepared.draft
      const id = found?.id ?? newId()
      // Erased personal data stays erased: an import does not even seal it again.
      const personal = found?.personalDataErasedAt != null || resource.personal === undefined ? null : resource.personal.of(draft)
      rows.push({
        index: item.index,
        isNew: found === undefined,
        // What an update changed, for its audit event: public field names only.
        change: storedInput === undefined ? null : changedFields(item.body, resource.personal?.fields ?? [], storedInput, input),
        id,
        version: (found?.version ?? 0) + 1,
        draft,
        contentHash: item.contentHash,
        ...(options.dryRun || resource.personal === undefined ? { personalData: null, dataKey: null } : resource.personal.data.sealed(caller.cityId, id, personal))
      })
      result.items[item.index] = { index: item.index, id: found?.id ?? null, external_id: externalId, outcome: found === undefined ? 'created' : 'updated', problems: [] }
    }
    if (resource.references !== undefined && rows.length > 0) {
      const problems = await resource.references(db, caller.cityId, rows.map((r) => r.draft))
      problems.forEach((found, i) => {
        const row = rows[i] as (typeof rows)[number]
        if (found === null || found.length === 0) return
        unreferenced.add(row.index)
        const part = options.pathOf(row.index)
        result.items[row.index] = { index: row.index, id: row.isNew ? null : row.id, external_id: result.items[row.index]?.external_id ?? null, outcome: 'rejected', problems: found.map((p) => ({ ...p, path: `/${part}${p.path}` })) }
      })
      rows.splice(0, rows.length, ...rows.filter((r) => result.items[r.index]?.outcome !== 'rejected'))
    }
    refuseIfAtomic(result, raw.length, options, unreferenced, forbidden)
    if (options.dryRun || rows.length === 0) return blindOutcomes(result, blind)

    const entries = rows.map((r) => ({
      action: `${resource.kind}.${r.isNew ? 'created' : 'updated'}`,
      objectType: resource.kind,
      objectId: r.id,
      details: { ...resource.auditDetails?.(r), personal_data: r.personalData !== null, ...r.change }
    }))
    /** One statement writes and audits; with an answer to store, it and the answer share a transaction. */
    const write = async (db: Executor): Promise<Array<Valid<B>>> => {
      const done = await bulkUpsert<ImportRow<D>, R>(db, resource.table, caller.cityId, rows, { actor, entries }, options.returnRows)
      const doneIds = new Set(done.map((d) => d.id))
      if (resource.written !== undefined) await resource.written(db, caller.cityId, rows.filter((r) => doneIds.has(r.id)))
      const retry: Array<Valid<B>> = []
      for (const row of rows) {
        const item = result.items[row.index] as ItemOutcome
        if (doneIds.has(row.id)) item.id = row.id
        else retry.push(byIndex.get(row.index) as Valid<B>)
      }
      result.written.push(...done)
      if (retry.length === 0 && options.answer !== undefined) {
        await options.answer(db, result as ImportResult<never>)
        result.answered = true
      }
      return retry
    }
    // Joining the caller's transaction, the write needs none of its own.
    pending = options.db === undefined && (options.answer !== undefined || resource.written !== undefined) ? await app.db.transaction(write) : await write(db)
  }
  for (const { index, body } of pending) {
    result.items[index] = { index, id: null, external_id: resource.externalIdOf(body), outcome: 'rejected', problems: [{ path: `/${options.pathOf(index)}`, message: CONCURRENT }] }
  }
  return blindOutcomes(result, blind)
}

type Prepared<D> = ReturnType<Importable<JsonObject, StoredRecord, D, unknown>['prepare']>

/**
 * An item as the resource's rules judge it: alone when nothing is stored under its key, else merged into the
 * stored record ('unreadable' when that record's personal data fails its integrity check). An item of a key
 * that cannot read the record it meets (`unseen`) is judged first on what it sent alone, as if nothing were
 * stored; valid alone, it is merged, and where the merge breaks a rule because of a stored field the item did
 * not send, what the item sent wins: those stored fields give way, and in the end the item as sent does.
 * Refusing it, or a record it cannot read failing its integrity check, would answer by what is stored.
 */
function judge<B extends JsonObject, R extends StoredRecord, D, P> (resource: Importable<B, R, D, P>, found: R | undefined, body: B, unseen: boolean,
  request: ImportRequest): { input: B, storedInput?: B, prepared: Prepared<D> } | 'unreadable' {
  const alone = applyMergePatch({} as B, body)
  if (found === undefined) return { input: alone, prepared: resource.prepare(alone, request) }
  if (unseen) {
    const judged = resource.prepare(alone, request)
    if (judged.draft === null) return { input: alone, prepared: judged }
  }
  const opened = resource.personal === undefined ? null : resource.personal.data.open(found as SealedRecord)
  if (opened === 'unreadable' && !unseen) return 'unreadable'
  const storedInput = resource.toInput(found, opened === 'unreadable' ? null : opened)
  const merge = resource.merge ?? applyMergePatch
  if (!unseen) {
    const input = merge(storedInput, body)
    return { input, storedInput, prepared: resource.prepare(input, request) }
  }
  let base = storedInput
  for (let attempt = 0; attempt < 3; attempt++) {
    const input = merge(base, body)
    const prepared = resource.prepare(input, request)
    if (prepared.draft !== null) return { input, storedInput, prepared }
    const giving = new Set(prepared.problems.map((p) => p.path.split('/')[1] ?? '').filter((field) => field !== '' && field in base && !(field in body)))
    if (giving.size === 0) break
    base = Object.fromEntries(Object.entries(base).filter(([field]) => !giving.has(field))) as B
  }
  return { input: alone, storedInput, prepared: resource.prepare(alone, request) }
}

/** Fields that name records of another kind, and the scope that reads them. */
export interface Naming { scope: string, fields: readonly string[] }

/**
 * The fields of a body that name other records and that the caller may not send (see Importable.names), as
 * problems, decided by the body and the key's scopes alone. An empty list (or null) names nothing.
 */
export function namesWithout (caller: Pick<Caller, 'scopes'>, names: readonly Naming[] | undefined, body: JsonObject): FieldError[] {
  return (names ?? []).filter((n) => !grants(caller.scopes, n.scope)).flatMap((n) => n.fields
    .filter((field) => body[field] !== undefined && body[field] !== null && !(Array.isArray(body[field]) && body[field].length === 0))
    .map((field) => ({ path: `/${field}`, message: `names another record, which needs ${n.scope}: without it, the answer would tell whether that record exists, or what it is` })))
}

/** The 403 of one object refused for what it names (a PATCH, a POST, an import of one object). */
const namingRefused = (errors: FieldError[]): ProblemError => new ProblemError('forbidden', 'The request names records of a kind this key cannot read.', { errors })

/** Refuses one object (a PATCH, a POST) that names records the key cannot read (see namesWithout): 403. */
export function refuseNaming (caller: Pick<Caller, 'scopes'>, names: readonly Naming[], body: unknown, at = '/body'): void {
  if (body === null || typeof body !== 'object') return
  const problems = namesWithout(caller, names, body as JsonObject)
  if (problems.length > 0) throw namingRefused(problems.map((p) => ({ ...p, path: `${at}${p.path}` })))
}

/**
 * The outcomes a key that cannot read the resource is told: a keyed item that was taken is `accepted`, whether
 * it created a record, merged into one, or repeated what the same key sent last (then nothing is written: no
 * new version), and no item carries the id of a record it met. `unchanged` would tell it whether anyone else
 * wrote the record since. An item without a natural key always creates, and keeps its `created` and its id.
 * Changes the items in place.
 */
function blindOutcomes<T extends ImportResult<unknown> | ItemOutcome[]> (result: T, keyed: Set<number> | null): T {
  if (keyed === null) return result
  for (const item of Array.isArray(result) ? result : result.items) {
    if (item === undefined || !keyed.has(item.index)) continue
    if (item.outcome === 'created' || item.outcome === 'updated' || item.outcome === 'unchanged') item.outcome = 'accepted'
    item.id = null
  }
  return result
}

/**
 * With atomic=true, one rejected item refuses the whole request before anything is written: a batch with 422;
 * one object with 400, or 422 when all it breaks is what it refers to (another city's or a missing record).
 */
function refuseIfAtomic (result: ImportResult<unknown>, total: number, options: ImportOptions, unreferenced: Set<number>, forbidden: Set<number>): void {
  const rejected = result.items.filter((item) => item?.outcome === 'rejected')
  if (!options.atomic || rejected.length === 0) return
  if (options.rejectedAs !== 'unprocessable' && rejected.every((item) => forbidden.has(item.index))) {
    throw namingRefused(rejected.flatMap((item) => item.problems).slice(0, 100))
  }
  if (options.rejectedAs === 'unprocessable') {
    throw new ProblemError('unprocessable', `${rejected.length} of ${total} items are invalid; with atomic=true nothing was written.`, { errors: rejected.flatMap((item) => item.problems).slice(0, 100) })
  }
  const references = rejected.every((item) => unreferenced.has(item.index))
  throw new ProblemError(references ? 'unprocessable' : 'validation_failed', references
    ? 'The request refers to records this city does not have, or conflicts with what is stored; errors lists each one.'
    : 'The request breaks a rule of the domain; errors lists each failing path.', { errors: rejected.flatMap((item) => item.problems).slice(0, 100) })
}

/** The summary of a batch answer. */
export function summaryOf (items: ItemOutcome[]): { created: number, updated: number, unchanged: number, accepted: number, rejected: number } {
  const summary = { created: 0, updated: 0, unchanged: 0, accepted: 0, rejected: 0 }
  for (const item of items) summary[item.outcome]++
  return summary
}

function externalIdOf (value: unknown): string | null {
  const id = (value as { external_id?: unknown } | null)?.external_id
  return typeof id === 'string' && id.length <= 200 ? id : null
}
