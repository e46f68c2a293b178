import type { Executor } from '../../../db/client.js'
import { invalidField, ProblemError } from '../../../lib/problems.js'
import type { Caller } from '../../../plugins/auth.js'
import { getIncident, type IncidentRow } from './repo.js'
import { TRANSITIONS, type IncidentInput, type IncidentPatch } from './schema.js'

export interface CaseState { status: string, resolution: string | null, duplicateOf: string | null }

/**
 * The case state a PATCH leads to, per the workflow: received → under_review → verified | unfounded |
 * duplicate; verified → referred | closed; referred, unfounded and duplicate → closed. How review ended
 * (the resolution, and the original of a duplicate) is kept through referral and closing. Throws the
 * problem that explains a refused move.
 */
export async function nextCaseState (db: Executor, caller: Caller, row: IncidentRow, patch: IncidentPatch): Promise<CaseState> {
  const status = patch.status ?? row.status
  if (patch.status !== undefined && patch.status !== row.status) {
    const allowed = TRANSITIONS[row.status] ?? []
    if (!allowed.includes(patch.status)) {
      throw new ProblemError('unprocessable', `An incident that is ${row.status} cannot become ${patch.status}; allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none (it is closed)'}.`, {
        errors: [{ path: '/body/status', message: `must be one of: ${allowed.join(', ') || 'none'}` }]
      })
    }
  }
  const resolution = ['verified', 'unfounded', 'duplicate'].includes(status) ? status : row.resolution
  const duplicateOf = resolution === 'duplicate' ? patch.duplicate_of ?? row.duplicateOf : null
  if (status === 'duplicate') {
    if (duplicateOf === null) throw invalidField('/body/duplicate_of', 'is required when status is duplicate')
    if (duplicateOf === row.id) throw invalidField('/body/duplicate_of', 'must name another incident')
    if (await getIncident(db, caller.cityId, duplicateOf, caller.sources) === undefined) throw invalidField('/body/duplicate_of', 'is not an incident of this city')
  } else if (patch.duplicate_of !== undefined && patch.duplicate_of !== row.duplicateOf) {
    throw invalidField('/body/duplicate_of', 'is only for status duplicate')
  }
  return { status, resolution, duplicateOf }
}

/** Erased personal data stays erased: a PATCH cannot set it again. */
export function refuseErasedPersonalData (row: IncidentRow, patch: IncidentPatch): void {
  const touchesPersonal = patch.narrative !== undefined || patch.reporter !== undefined ||
    patch.location?.address !== undefined || patch.location?.latitude !== undefined || patch.location?.longitude !== undefined
  if (touchesPersonal && row.personalDataErasedAt !== null) {
    throw new ProblemError('unprocessable', 'The personal data of this incident was erased; it cannot be set again.')
  }
}

/** Top-level fields replace; nested objects (location, online, victim, consent, reporter) merge; null removes. */
export function mergePatch (input: IncidentInput, patch: Record<string, unknown>): IncidentInput {
  const merged: Record<string, unknown> = { ...input }
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'status' || key === 'duplicate_of') continue
    if (value === null) {
      delete merged[key]
    } else if (['location', 'online', 'victim', 'consent', 'reporter'].includes(key) && typeof value === 'object' && !Array.isArray(value)) {
      merged[key] = { ...(merged[key] as object | undefined), ...value }
    } else {
      merged[key] = value
    }
  }
  if (patch.occurred_at !== undefined) delete merged.occurred_on
  if (patch.occurred_on !== undefined) delete merged.occurred_at
  return merged as IncidentInput
}
