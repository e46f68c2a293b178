import type { FastifyInstance } from 'fastify'
import { Compile } from 'typebox/compile'
import type { Executor } from '../../../db/client.js'
import type { AuditActor } from '../../../lib/audit.js'
import { sealPersonal } from '../../../lib/envelope.js'
import { newId } from '../../../lib/ids.js'
import { applyMergePatch, patchedPaths } from '../../../lib/merge-patch.js'
import { UnparsableItem } from '../../../lib/ndjson.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import { fieldErrors } from '../../../lib/validation.js'
import type { Caller } from '../../../plugins/auth.js'
import { TAXONOMY_VERSION } from '../../../taxonomies/index.js'
import { openStoredPersonal, toInput } from './present.js'
import { findBySourceAndExternalId, upsertIncidents, type IncidentRow, type WriteRow, type Written } from './repo.js'
import { contentHashOf, mergeIncident, prepareIncident } from './rules.js'
import { IncidentInputSchema, type BatchResult, type IncidentInput } from './schema.js'

const checkInput = Compile(IncidentInputSchema)

type Outcome = BatchResult['items'][number]

/** How often items that met a concurrent write are looked up and merged again before they are refused. */
const ROUNDS = 3
/** The message of an item refused because it met a concurrent write; the same request sent again succeeds. */
export const CONCURRENT = 'was being written concurrently; send it again'

export interface IngestOptions {
  /** Batches need an external_id on every item, so re-running them can find what they wrote. */
  requireExternalId: boolean
  atomic: boolean
  dryRun: boolean
  /** The problem answered when an atomic request holds an invalid item: 422 for a batch, 400 for one report. */
  rejectedAs: 'unprocessable' | 'validation_failed'
  /** Request part in problem paths: "body" for one report, "body/<index>" for a batch item. */
  pathOf: (index: number) => string
  /**
   * Called inside the transaction of the last write, when every item has its outcome: the request's answer
   * is stored there, so that the writes and the answer a retry replays commit together.
   */
  answer?: (tx: Executor, result: IngestResult) => Promise<void>
  /** Whether the written rows come back whole (one report, answered with it), or only their ids. */
  returnRows?: boolean
}

/** A valid item, ready to be merged with what is stored under its key. */
interface Valid { index: number, body: IncidentInput, contentHash: string }

export interface IngestResult { items: Outcome[], written: Written[], answered: boolean }

/**
 * Validates, merges, seals and upserts reports, set-based: one query to find what exists, one statement to
 * write everything, one to audit it. Bad items are reported and do not block good ones, unless `atomic`.
 *
 * An item with an external_id is an import: merged into the stored incident as a JSON Merge Patch (fields it
 * omits keep their stored values, personal ones included; null clears one), so a partner re-sending what it
 * knows never erases what the city added. The case (status, referrals) is never written here.
 */
export async function ingestIncidents (app: FastifyInstance, caller: Caller, actor: AuditActor, raw: unknown[], options: IngestOptions): Promise<IngestResult> {
  const hashKey = app.subkey('incident-content')
  const result: IngestResult = { items: [], written: [], answered: false }
  const valid: Valid[] = []
  const seen = new Map<string, number>()

  raw.forEach((value, index) => {
    const reject = (problems: FieldError[]): void => { result.items[index] = { index, id: null, external_id: externalIdOf(value), outcome: 'rejected', problems } }
    const part = options.pathOf(index)
    if (value instanceof UnparsableItem) return reject([{ path: `/${part}`, message: value.message }])
    if (!checkInput.Check(value)) return reject(fieldErrors([...checkInput.Errors(value)], part))
    const body = value as IncidentInput
    if (caller.sources !== null && !caller.sources.includes(body.source)) {
      return reject([{ path: `/${part}/source`, message: `is not one of this key's sources (${caller.sources.join(', ')})` }])
    }
    if (options.requireExternalId && body.external_id === undefined) return reject([{ path: `/${part}/external_id`, message: 'is required in a batch' }])
    if (body.external_id !== undefined) {
      const key = `${body.source}\n${body.external_id}`
      const first = seen.get(key)
      if (first !== undefined) return reject([{ path: `/${part}/external_id`, message: `repeats item ${first} of this batch (same source and external_id)` }])
      seen.set(key, index)
    }
    valid.push({ index, body, contentHash: contentHashOf(body, hashKey) })
  })

  const context = { timezone: caller.city.timezone, now: new Date(), taxonomyVersion: TAXONOMY_VERSION }
  const masterKey = app.subkey('personal-data')
  const byIndex = new Map(valid.map((v) => [v.index, v]))
  let pending = valid
  for (let round = 0; round < ROUNDS && pending.length > 0; round++) {
    const existing = await findBySourceAndExternalId(app.db, caller.cityId, pending.filter((v) => v.body.external_id !== undefined)
      .map((v) => ({ source: v.body.source, externalId: v.body.external_id as string })))
    const stored = new Map(existing.map((row) => [`${row.source}\n${row.externalId ?? ''}`, row]))
    const rows: Array<WriteRow & { index: number, isNew: boolean, fields: string[] }> = []
    for (const item of pending) {
      const found = item.body.external_id !== undefined ? stored.get(`${item.body.source}\n${item.body.external_id}`) : undefined
      const part = options.pathOf(item.index)
      if (found !== undefined && found.contentHash === item.contentHash) {
        result.items[item.index] = { index: item.index, id: found.id, external_id: found.externalId, outcome: 'unchanged', problems: [] }
        continue
      }
      const merged = found === undefined ? { record: applyMergePatch({} as IncidentInput, item.body) } : mergeStored(masterKey, found, item.body)
      if (!('record' in merged)) {
        result.items[item.index] = { index: item.index, id: found?.id ?? null, external_id: item.body.external_id ?? null, outcome: 'rejected', problems: [{ path: `/${part}`, message: merged.problem }] }
        continue
      }
      const prepared = prepareIncident(merged.record, context)
      if (prepared.draft === null) {
        result.items[item.index] = { index: item.index, id: null, external_id: item.body.external_id ?? null, outcome: 'rejected', problems: prepared.problems.map((p) => ({ ...p, path: `/${part}${p.path}` })) }
        continue
      }
      const draft = prepared.draft
      const id = found?.id ?? newId()
      // Erased personal data stays erased: an import does not even seal it again.
      if (found?.personalDataErasedAt != null) draft.personal = null
      const sealed = draft.personal !== null && !options.dryRun ? sealPersonal(masterKey, caller.cityId, 'incident', id, draft.personal) : null
      rows.push({
        index: item.index,
        isNew: found === undefined,
        // Which fields an update set or cleared, for its audit event (names only).
        fields: found === undefined ? [] : patchedPaths(item.body),
        id,
        draft,
        contentHash: item.contentHash,
        version: (found?.version ?? 0) + 1,
        personalData: sealed?.data ?? null,
        dataKey: sealed?.dataKey ?? null
      })
      result.items[item.index] = { index: item.index, id: found?.id ?? null, external_id: draft.externalId, outcome: found === undefined ? 'created' : 'updated', problems: [] }
    }
    refuseIfAtomic(result, raw.length, options)
    if (options.dryRun || rows.length === 0) return result

    const entries = rows.map((r) => ({
      action: r.isNew ? 'incident.created' : 'incident.updated',
      objectType: 'incident',
      objectId: r.id,
      // Which fields an import set or cleared (names only): a cleared narrative or reporter is on record.
      details: { source: r.draft.source, personal_data: r.draft.personal !== null, ...(r.isNew ? {} : { fields: r.fields }) }
    }))
    /** One statement writes and audits; with an answer to store, it and the answer share a transaction. */
    const write = async (db: Executor): Promise<Valid[]> => {
      const done = await upsertIncidents(db, caller.cityId, rows, { actor, entries }, options.returnRows)
      const doneIds = new Set(done.map((d) => d.id))
      const retry: Valid[] = []
      for (const row of rows) {
        if (doneIds.has(row.id)) result.items[row.index] = { index: row.index, id: row.id, external_id: row.draft.externalId, outcome: row.isNew ? 'created' : 'updated', problems: [] }
        else retry.push(byIndex.get(row.index) as Valid)
      }
      result.written.push(...done)
      if (retry.length === 0 && options.answer !== undefined) {
        await options.answer(db, result)
        result.answered = true
      }
      return retry
    }
    pending = options.answer !== undefined ? await app.db.transaction(write) : await write(app.db)
  }
  for (const { index, body } of pending) {
    result.items[index] = { index, id: null, external_id: body.external_id ?? null, outcome: 'rejected', problems: [{ path: `/${options.pathOf(index)}`, message: CONCURRENT }] }
  }
  return result
}

/** The stored incident with an import merged in, or why it cannot be merged. */
function mergeStored (masterKey: Buffer, row: IncidentRow, body: IncidentInput): { record: IncidentInput } | { problem: string } {
  const personal = openStoredPersonal(masterKey, row)
  if (personal === 'unreadable') {
    return { problem: 'the stored personal data of this incident fails its integrity check; erase it (DELETE /v1/incidents/{id}/personal-data) before importing it again' }
  }
  return { record: mergeIncident(toInput(row, personal), body) }
}

/** With atomic=true, one rejected item refuses the whole request before anything is written. */
function refuseIfAtomic (result: IngestResult, total: number, options: IngestOptions): void {
  const rejected = result.items.filter((item) => item?.outcome === 'rejected')
  if (!options.atomic || rejected.length === 0) return
  const detail = options.rejectedAs === 'unprocessable'
    ? `${rejected.length} of ${total} items are invalid; with atomic=true nothing was written.`
    : 'The report breaks a rule of the domain; errors lists each failing path.'
  throw new ProblemError(options.rejectedAs, detail, { errors: rejected.flatMap((item) => item.problems).slice(0, 100) })
}

function externalIdOf (value: unknown): string | null {
  const id = (value as { external_id?: unknown } | null)?.external_id
  return typeof id === 'string' && id.length <= 200 ? id : null
}
