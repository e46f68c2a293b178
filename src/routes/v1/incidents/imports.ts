import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Importable } from '../../../lib/batch.js'
import { createOne } from '../../../lib/import-routes.js'
import { ProblemError } from '../../../lib/problems.js'
import { callerOf } from '../../../plugins/auth.js'
import type { PersonalData as Vault } from '../../../lib/personal-data.js'
import { TAXONOMY_VERSION } from '../../../taxonomies/index.js'
import { toInput } from './present.js'
import { findBySourceAndExternalId, getIncident, INCIDENT_WRITES, type IncidentRow } from './repo.js'
import { mergeIncident, PERSONAL_FIELDS, prepareIncident, type Draft, type PersonalData } from './rules.js'
import { IncidentInputSchema, type IncidentInput } from './schema.js'

/**
 * Incidents as the batch module imports them: keyed on (source, external_id), merged with the rule that an
 * incident has occurred_at or occurred_on, prepared by the incident rules, written by INCIDENT_WRITES. A
 * partner's key is limited to its own sources.
 */
export function incidentImports (personal: Vault<PersonalData>): Importable<IncidentInput, IncidentRow, Draft, PersonalData> {
  return {
    kind: 'incident',
    readScope: 'incidents:read',
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
    // Imports carry their codes, so they are checked against the taxonomy in force.
    prepare: (input, { caller, now, today }) => prepareIncident(input, { timezone: caller.city.timezone, now, today, taxonomyVersion: TAXONOMY_VERSION }),
    personal: { of: (draft) => draft.personal, data: personal, fields: PERSONAL_FIELDS },
    table: INCIDENT_WRITES,
    auditDetails: (row) => ({ source: row.draft.source })
  }
}

/**
 * Creates (or, with an external_id, imports) one report sent as a POST body and answers it as `present` makes
 * it: a partner's key reports only for its own sources (403 otherwise), before anything is looked up.
 */
export async function createReport (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply,
  imports: Importable<IncidentInput, IncidentRow, Draft, PersonalData>, answer: { present: (row: IncidentRow) => unknown, etag?: boolean }): Promise<FastifyReply> {
  const caller = callerOf(request)
  const { source } = request.body as IncidentInput
  if (caller.sources !== null && !caller.sources.includes(source)) {
    throw new ProblemError('forbidden', `This key reports only for its own sources (${caller.sources.join(', ')}).`)
  }
  return await createOne(app, request, reply, imports, {
    location: (id) => `/v1/incidents/${id}`,
    read: async (db, id) => await getIncident(db, caller.cityId, id, null),
    ...answer
  })
}
