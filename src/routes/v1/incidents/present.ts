import { personalDataState, type PersonalView } from '../../../lib/personal-data.js'
import type { IncidentRow } from './repo.js'
import type { PersonalData } from './rules.js'
import type { Incident, IncidentInput, IncidentReceipt } from './schema.js'

const HIDDEN: PersonalView<PersonalData> = { kind: 'hidden' }

/**
 * The wire form of an incident. Without the personal scope it carries no personal field at all, and its
 * coordinates are the stored coarse ones.
 */
export function toIncident (row: IncidentRow, view: PersonalView<PersonalData> = HIDDEN): Incident {
  const personal = view.kind === 'shown' ? view.data : null
  const exact = personal?.latitude !== undefined && personal.longitude !== undefined
  const incident: Incident = {
    id: row.id,
    source: row.source,
    external_id: row.externalId,
    incident_type: row.incidentType as Incident['incident_type'],
    bias_motivations: row.biasMotivations as Incident['bias_motivations'],
    bias_categories: row.biasCategories as Incident['bias_categories'],
    offense_types: row.offenseTypes as Incident['offense_types'],
    taxonomy_version: row.taxonomyVersion,
    occurred_at: row.occurredAt?.toISOString() ?? null,
    occurred_on: row.occurredOn,
    reported_at: row.reportedAt.toISOString(),
    language: row.language,
    location: {
      location_type: row.locationType as Incident['location']['location_type'],
      neighborhood: row.neighborhood,
      census_tract: row.censusTract,
      latitude: exact ? personal.latitude ?? null : row.coarseLatitude,
      longitude: exact ? personal.longitude ?? null : row.coarseLongitude,
      coordinates_precision: exact ? 'exact' : row.coarseLatitude !== null ? 'coarse' : 'none'
    },
    online: { is_online: row.isOnline, platform: row.platform },
    summary: row.summary,
    victim: { count: row.victimCount, type: row.victimType as Incident['victim']['type'] },
    consent: { contact_ok: row.contactOk, share_with_law_enforcement: row.shareWithLawEnforcement, include_in_statistics: row.includeInStatistics },
    status: row.status as Incident['status'],
    resolution: row.resolution as Incident['resolution'],
    duplicate_of: row.duplicateOf,
    referrals: row.referrals,
    personal_data: personalDataState(row),
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
  if (view.kind === 'shown') {
    incident.narrative = personal?.narrative ?? null
    incident.reporter = personal?.reporter ?? null
    incident.location.address = personal?.address ?? null
  }
  return incident
}

/** A stored incident as the input that would produce it, so a PATCH can be applied and re-validated. */
export function toInput (row: IncidentRow, personal: PersonalData | null): IncidentInput {
  const input: IncidentInput = {
    source: row.source,
    incident_type: row.incidentType as IncidentInput['incident_type'],
    bias_motivations: row.biasMotivations as IncidentInput['bias_motivations'],
    offense_types: row.offenseTypes as IncidentInput['offense_types'],
    reported_at: row.reportedAt.toISOString(),
    // "Not online" is left unsaid, so that a change to location type 58 (cyberspace) can make it online.
    ...(row.isOnline ? { online: { is_online: true, ...(row.platform !== null ? { platform: row.platform } : {}) } } : {}),
    victim: { ...(row.victimCount !== null ? { count: row.victimCount } : {}), ...(row.victimType !== null ? { type: row.victimType as never } : {}) },
    consent: { contact_ok: row.contactOk, share_with_law_enforcement: row.shareWithLawEnforcement, include_in_statistics: row.includeInStatistics },
    location: {
      ...(row.locationType !== null ? { location_type: row.locationType as never } : {}),
      ...(row.neighborhood !== null ? { neighborhood: row.neighborhood } : {}),
      ...(row.censusTract !== null ? { census_tract: row.censusTract } : {}),
      ...(personal?.address !== undefined ? { address: personal.address } : {}),
      ...(personal?.latitude !== undefined ? { latitude: personal.latitude } : {}),
      ...(personal?.longitude !== undefined ? { longitude: personal.longitude } : {})
    }
  }
  if (row.externalId !== null) input.external_id = row.externalId
  if (row.occurredAt !== null) input.occurred_at = row.occurredAt.toISOString()
  else input.occurred_on = row.occurredOn
  if (row.language !== null) input.language = row.language
  if (row.summary !== null) input.summary = row.summary
  if (personal?.narrative !== undefined) input.narrative = personal.narrative
  if (personal?.reporter !== undefined) input.reporter = personal.reporter
  return input
}

/** The receipt of a resident's report: what happens next depends only on what the resident sent. */
export function toReceipt (row: IncidentRow): IncidentReceipt {
  return {
    id: row.id,
    status: 'received',
    received_at: row.createdAt.toISOString(),
    next_steps: row.contactOk
      ? 'The city reviews every report. You agreed to be contacted: a case worker may reach you with the contact details you gave.'
      : 'The city reviews every report. You did not ask to be contacted, so nobody will reach out; quote this id if you contact the city.'
  }
}
