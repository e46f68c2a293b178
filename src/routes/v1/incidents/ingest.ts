import type { FastifyInstance } from 'fastify'
import { Compile } from 'typebox/compile'
import type { Db } from '../../../db/client.js'
import { recordAudits, type AuditActor } from '../../../lib/audit.js'
import { sealPersonal } from '../../../lib/envelope.js'
import { newId } from '../../../lib/ids.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import { fieldErrors } from '../../../lib/validation.js'
import type { Caller } from '../../../plugins/auth.js'
import { getCity } from '../city/repo.js'
import { findBySourceAndExternalId, upsertIncidents, type WriteRow } from './repo.js'
import { prepareIncident, type Draft } from './rules.js'
import { IncidentInputSchema, type BatchResult, type IncidentInput } from './schema.js'

const checkInput = Compile(IncidentInputSchema)

/** A line of an NDJSON body that is not JSON; it becomes a rejected item, not a failed batch. */
export class UnparsableItem {
  constructor (readonly message: string) {}
}

type Outcome = BatchResult['items'][number]

export interface IngestOptions {
  /** Batches need an external_id on every item, so re-running them can find what they wrote. */
  requireExternalId: boolean
  atomic: boolean
  dryRun: boolean
  /** The problem answered when an atomic request holds an invalid item: 422 for a batch, 400 for one report. */
  rejectedAs: 'unprocessable' | 'validation_failed'
  /** Request part in problem paths: "body" for one report, "body/<index>" for a batch item. */
  pathOf: (index: number) => string
}

interface Prepared { index: number, draft: Draft }

export interface IngestResult { items: Outcome[], written: Array<{ id: string, inserted: boolean }> }

/**
 * Validates, seals and upserts reports, set-based: one query to find what exists, one statement to write
 * everything, one to audit it. Bad items are reported and do not block good ones, unless `atomic`.
 */
export async function ingestIncidents (app: FastifyInstance, caller: Caller, actor: AuditActor, raw: unknown[], options: IngestOptions): Promise<IngestResult> {
  const city = await cityContext(app.db, caller.cityId)
  const now = new Date()
  const hashKey = app.subkey('incident-content')
  const items: Outcome[] = []
  const prepared: Prepared[] = []
  const seen = new Map<string, number>()

  raw.forEach((value, index) => {
    const reject = (problems: FieldError[]): void => { items[index] = { index, id: null, external_id: externalIdOf(value), outcome: 'rejected', problems } }
    const part = options.pathOf(index)
    if (value instanceof UnparsableItem) return reject([{ path: `/${part}`, message: value.message }])
    if (!checkInput.Check(value)) return reject(fieldErrors([...checkInput.Errors(value)], part))
    const input = value as IncidentInput
    if (caller.sources !== null && !caller.sources.includes(input.source)) {
      return reject([{ path: `/${part}/source`, message: `is not one of this key's sources (${caller.sources.join(', ')})` }])
    }
    if (options.requireExternalId && input.external_id === undefined) return reject([{ path: `/${part}/external_id`, message: 'is required in a batch' }])
    const result = prepareIncident(input, { timezone: city.timezone, now, hashKey })
    if (result.draft === null) return reject(result.problems.map((p) => ({ ...p, path: `/${part}${p.path}` })))
    if (input.external_id !== undefined) {
      const key = `${input.source}\n${input.external_id}`
      const first = seen.get(key)
      if (first !== undefined) return reject([{ path: `/${part}/external_id`, message: `repeats item ${first} of this batch (same source and external_id)` }])
      seen.set(key, index)
    }
    prepared.push({ index, draft: result.draft })
  })

  const rejected = items.filter((item) => item !== undefined)
  if (options.atomic && rejected.length > 0) {
    const detail = options.rejectedAs === 'unprocessable'
      ? `${rejected.length} of ${raw.length} items are invalid; with atomic=true nothing was written.`
      : 'The report breaks a rule of the domain; errors lists each failing path.'
    throw new ProblemError(options.rejectedAs, detail, {
      errors: rejected.flatMap((item) => item.problems).slice(0, 100)
    })
  }

  const written: IngestResult['written'] = []
  // A concurrent import may create the same (source, external_id) between our look-up and our write; the
  // items it took are looked up and written once more.
  let pending = prepared
  for (let attempt = 0; attempt < 3 && pending.length > 0; attempt++) {
    pending = await writeRound(app, caller, actor, pending, items, written, options.dryRun)
  }
  for (const { index } of pending) {
    items[index] = { index, id: null, external_id: null, outcome: 'rejected', problems: [{ path: `/${options.pathOf(index)}`, message: 'was being written concurrently; send it again' }] }
  }
  return { items, written }
}

async function writeRound (app: FastifyInstance, caller: Caller, actor: AuditActor, prepared: Prepared[], items: Outcome[], written: IngestResult['written'], dryRun: boolean): Promise<Prepared[]> {
  const keyed = prepared.filter((p) => p.draft.externalId !== null)
  const existing = await findBySourceAndExternalId(app.db, caller.cityId, keyed.map((p) => ({ source: p.draft.source, externalId: p.draft.externalId as string })))
  const byKey = new Map(existing.map((e) => [`${e.source}\n${e.externalId}`, e]))
  const masterKey = app.subkey('personal-data')
  const rows: Array<WriteRow & { index: number, isNew: boolean }> = []

  for (const { index, draft } of prepared) {
    const found = draft.externalId !== null ? byKey.get(`${draft.source}\n${draft.externalId}`) : undefined
    if (found !== undefined && found.contentHash === draft.contentHash) {
      items[index] = { index, id: found.id, external_id: draft.externalId, outcome: 'unchanged', problems: [] }
      continue
    }
    const id = found?.id ?? newId()
    // Re-sent without reported_at, an update keeps the time it was first reported.
    if (found !== undefined && !draft.reportedAtGiven) draft.reportedAt = found.reportedAt
    // Erased personal data stays erased: a re-import does not even seal it again.
    if (found?.erased === true) draft.personal = null
    const sealed = draft.personal !== null && !dryRun ? sealPersonal(masterKey, caller.cityId, 'incident', id, draft.personal) : null
    rows.push({ index, isNew: found === undefined, id, draft, personalData: sealed?.data ?? null, dataKey: sealed?.dataKey ?? null })
    items[index] = { index, id: found?.id ?? null, external_id: draft.externalId, outcome: found === undefined ? 'created' : 'updated', problems: [] }
  }
  if (dryRun || rows.length === 0) return []

  const result = await app.db.transaction(async (tx) => {
    const done = await upsertIncidents(tx, caller.cityId, rows)
    const doneIds = new Set(done.map((d) => d.id))
    await recordAudits(tx, caller.cityId, actor, rows.filter((r) => doneIds.has(r.id)).map((r) => ({
      action: r.isNew ? 'incident.created' : 'incident.updated',
      objectType: 'incident',
      objectId: r.id,
      details: { source: r.draft.source, personal_data: r.draft.personal !== null }
    })))
    return done
  })
  written.push(...result)
  const doneIds = new Set(result.map((d) => d.id))
  const retry: Prepared[] = []
  for (const row of rows) {
    if (doneIds.has(row.id)) {
      items[row.index] = { index: row.index, id: row.id, external_id: row.draft.externalId, outcome: row.isNew ? 'created' : 'updated', problems: [] }
    } else if (row.isNew) {
      retry.push({ index: row.index, draft: row.draft })
    } else {
      // Changed concurrently to exactly this content.
      items[row.index] = { index: row.index, id: row.id, external_id: row.draft.externalId, outcome: 'unchanged', problems: [] }
    }
  }
  return retry
}

function externalIdOf (value: unknown): string | null {
  const id = (value as { external_id?: unknown } | null)?.external_id
  return typeof id === 'string' && id.length <= 200 ? id : null
}

async function cityContext (db: Db, cityId: string): Promise<{ timezone: string }> {
  const city = await getCity(db, cityId)
  if (city === undefined) throw new ProblemError('not_found', 'No such city.')
  return { timezone: city.timezone }
}
