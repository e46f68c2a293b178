import type { Executor } from '../../../db/client.js'
import { invalidField, ProblemError } from '../../../lib/problems.js'
import type { Caller } from '../../../plugins/auth.js'
import { grants } from '../../../lib/scopes.js'
import { getIncident, unknownReferrals, type CaseFields, type IncidentRow } from './repo.js'
import { TRANSITIONS, type IncidentPatch } from './schema.js'

/**
 * The case state a PATCH leads to, per the workflow: received → under_review → verified | unfounded |
 * duplicate; verified → referred | closed; referred, unfounded and duplicate → closed. How review ended
 * (the resolution, and the original of a duplicate) is kept through referral and closing. Throws the
 * problem that explains a refused move.
 */
export async function nextCaseState (db: Executor, caller: Caller, row: IncidentRow, patch: IncidentPatch): Promise<CaseFields> {
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
  // Only one the change names is looked up, as the caller may see it, and first: the stored one may be another
  // source's, which a partner's key cannot see, and naming it again is answered as naming any report it cannot see.
  if (patch.duplicate_of !== undefined && await getIncident(db, caller.cityId, patch.duplicate_of, caller.sources) === undefined) throw invalidField('/body/duplicate_of', 'is not an incident of this city')
  if (status === 'duplicate') {
    if (duplicateOf === null) throw invalidField('/body/duplicate_of', 'is required when status is duplicate')
    if (duplicateOf === row.id) throw invalidField('/body/duplicate_of', 'must name another incident')
  } else if (patch.duplicate_of !== undefined && patch.duplicate_of !== row.duplicateOf) {
    throw invalidField('/body/duplicate_of', 'is only for status duplicate')
  }
  const referrals = patch.referrals ?? row.referrals
  if (status === 'referred' && referrals.length === 0) throw invalidField('/body/referrals', 'must name at least one referral when status is referred')
  const referralsChanged = patch.referrals !== undefined && JSON.stringify(patch.referrals) !== JSON.stringify(row.referrals)
  if (referralsChanged) {
    const unknown = await unknownReferrals(db, caller.cityId, referrals)
    if (unknown.length > 0) {
      throw new ProblemError('unprocessable', `${unknown.length === 1 ? 'A referral names' : 'Referrals name'} no program or stakeholder of this city.`, {
        errors: unknown.map((i) => ({ path: `/body/referrals/${i}/id`, message: `is not a ${referrals[i]?.kind ?? 'program'} of this city` }))
      })
    }
  }
  return { status, resolution, duplicateOf, referrals, referralsChanged }
}

/** Erased personal data stays erased: a PATCH cannot set it again (removing it once more changes nothing). */
export function refuseErasedPersonalData (row: IncidentRow, patch: IncidentPatch): void {
  const touchesPersonal = patch.narrative != null || patch.reporter != null ||
    patch.location?.address != null || patch.location?.latitude != null || patch.location?.longitude != null
  if (touchesPersonal && row.personalDataErasedAt !== null) {
    throw new ProblemError('unprocessable', 'The personal data of this incident was erased; it cannot be set again.')
  }
}

/** The members of a PATCH that belong to the case, which only the city's case workers run. */
const CASE_FIELDS = ['status', 'duplicate_of', 'referrals'] as const

/**
 * Refuses, before anything is read, a PATCH that changes what the key's scopes do not cover: the case needs
 * incidents:case, the report's details incidents:write. The refusal names only what was sent.
 */
export function refuseUngrantedChanges (scopes: readonly string[], patch: IncidentPatch): void {
  const sent = Object.keys(patch)
  const caseFields = sent.filter((name) => (CASE_FIELDS as readonly string[]).includes(name))
  const details = sent.filter((name) => !(CASE_FIELDS as readonly string[]).includes(name))
  if (caseFields.length > 0 && !grants(scopes, 'incidents:case')) {
    throw new ProblemError('forbidden', `Changing ${caseFields.join(', ')} runs the case, which needs incidents:case.`)
  }
  if (details.length > 0 && !grants(scopes, 'incidents:write')) {
    throw new ProblemError('forbidden', `Changing ${details.join(', ')} needs incidents:write.`)
  }
}
