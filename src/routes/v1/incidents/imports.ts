import type { Importable } from '../../../lib/batch.js'
import type { Caller } from '../../../plugins/auth.js'
import type { PersonalData as Vault } from '../../../lib/personal-data.js'
import { TAXONOMY_VERSION } from '../../../taxonomies/index.js'
import { toInput } from './present.js'
import { findBySourceAndExternalId, INCIDENT_WRITES, type IncidentRow } from './repo.js'
import { mergeIncident, prepareIncident, ruleContext, type Draft, type PersonalData, type RuleContext } from './rules.js'
import { IncidentInputSchema, type IncidentInput } from './schema.js'

/**
 * Incidents as the batch module imports them: keyed on (source, external_id), merged with the rule that an
 * incident has occurred_at or occurred_on, prepared by the incident rules, written by INCIDENT_WRITES. A
 * partner's key is limited to its own sources.
 */
export function incidentImports (personal: Vault<PersonalData>): Importable<IncidentInput, IncidentRow, Draft, PersonalData> {
  const contexts = new WeakMap<Caller, RuleContext>()
  return {
    kind: 'incident',
    schema: IncidentInputSchema,
    keyOf: (body) => body.external_id !== undefined ? `${body.source}\n${body.external_id}` : null,
    keyOfRow: (row) => `${row.source}\n${row.externalId ?? ''}`,
    externalIdOf: (body) => body.external_id ?? null,
    refuse: (caller, body) => caller.sources !== null && !caller.sources.includes(body.source)
      ? { path: '/source', message: `is not one of this key's sources (${caller.sources.join(', ')})` }
      : null,
    find: async (db, cityId, bodies) => await findBySourceAndExternalId(db, cityId, bodies.map((b) => ({ source: b.source, externalId: b.external_id as string }))),
    toInput,
    merge: mergeIncident,
    // Imports carry their codes, so they are checked against the taxonomy in force. One context per request:
    // all the reports of a batch are judged by the same clock and the same day.
    prepare: (input, caller) => {
      let context = contexts.get(caller)
      if (context === undefined) {
        context = ruleContext(caller.city.timezone, TAXONOMY_VERSION)
        contexts.set(caller, context)
      }
      return prepareIncident(input, context)
    },
    personal: { of: (draft) => draft.personal, data: personal },
    table: INCIDENT_WRITES,
    auditDetails: (row) => ({ source: row.draft.source })
  }
}
