import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { scopesDescription } from '../lib/scopes.js'

export const API_DESCRIPTION = `Cohesion keeps a city's prevention framework against hate, extremism and polarization: its
stakeholders and the trust between them, community surveys (needs and vulnerabilities assessments), bias-incident
and hate-crime reports, its action plan and its KPIs.

**Callers.** City IT departments wire it into the city portal; community organisations push incident reports,
re-running their imports safely; analysts pull de-identified exports.

**Conventions.** JSON in snake_case; ids are UUIDs; times RFC 3339 UTC. Lists answer
\`{ "data": [...], "next_cursor": ... }\`: pass \`next_cursor\` back as \`cursor\`. Every POST accepts an
\`Idempotency-Key\`. Updates answer an \`ETag\`; send it back in \`If-Match\` (stale: 412, missing: 428).
Every failure is an RFC 9457 problem (\`application/problem+json\`) with a stable \`code\`.
Every response carries \`x-request-id\` and, but to a shared submit-only key, the \`RateLimit-*\` headers of the
caller's allowance.

**Personal data.** Victims' and reporters' identities are never in a response unless the key holds a
personal-data scope, which even \`admin\` does not imply.

**A key learns nothing it may not read.** What a key receives — status, body, headers, batch outcomes, problems,
audit events, ETags — does not depend on data it may not read: personal fields without their scope, other
sources' records for a key limited to sources, another city's records, or other people's requests on a key they
share. Import outcomes compare only with what the same key sent before. An ETag is predictable and is no
permission: every PATCH needs the scope that reads the object, so \`If-Match: *\` is accepted only from a key
that may read it.`

interface OpenApiResponse { description?: string, headers?: Record<string, unknown>, content?: Record<string, { schema?: Record<string, unknown> }> }
interface OpenApiOperation { responses?: Record<string, OpenApiResponse> }
interface OpenApiDocument { servers?: unknown[], paths?: Record<string, Record<string, OpenApiOperation>>, components?: Record<string, unknown> }

const header = (description: string, schema: Record<string, unknown>) => ({ description, schema })
const SHARED_HEADERS = {
  'X-Request-Id': header('Identifies the request in the service\'s logs; a sane incoming value is echoed.', { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._:-]{1,128}$' }),
  'RateLimit-Limit': header('Requests allowed per window for this API key.', { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647 }),
  'RateLimit-Remaining': header('Requests left in the current window.', { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647 }),
  'RateLimit-Reset': header('Seconds until the window resets.', { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647 }),
  'Retry-After': header('Seconds to wait before retrying.', { type: 'integer', format: 'int32', minimum: 0, maximum: 2147483647 }),
  Location: header('The URL of the created object.', { type: 'string', format: 'uri-reference', maxLength: 2000 }),
  'Access-Control-Allow-Origin': header('Present when the request\'s Origin is one of the city portals in CORS_ORIGINS.', { type: 'string', format: 'uri', maxLength: 2000 }),
  ETag: header('The version of the object; send it back in `If-Match` to change it.', { type: 'string', maxLength: 200, pattern: '^"[^"]+"$' })
}
const DESCRIPTIONS: Record<string, string> = { 200: 'OK', 201: 'Created', 204: 'No Content' }

/**
 * Headers that cross-cutting plugins add to every response (request id, rate limit, Retry-After) are
 * documented here once rather than in each route; the server entry declares its audience.
 */
export function finishDocument (spec: OpenApiDocument): OpenApiDocument {
  spec.servers = [{ url: '/', description: 'The production or local server answering this document', 'x-internal': false }]
  spec.components = { ...spec.components, headers: SHARED_HEADERS }
  const use = (name: keyof typeof SHARED_HEADERS) => ({ $ref: `#/components/headers/${name}` })
  for (const operations of Object.values(spec.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description === 'Default Response') response.description = DESCRIPTIONS[status] ?? response.description
        const headers: Record<string, unknown> = { 'X-Request-Id': use('X-Request-Id'), 'Access-Control-Allow-Origin': use('Access-Control-Allow-Origin') }
        if (/^[24]/.test(status)) Object.assign(headers, { 'RateLimit-Limit': use('RateLimit-Limit'), 'RateLimit-Remaining': use('RateLimit-Remaining'), 'RateLimit-Reset': use('RateLimit-Reset') })
        if (status === '429' || status === '503') headers['Retry-After'] = use('Retry-After')
        if (status === '201') headers.Location = use('Location')
        if (response.headers?.ETag !== undefined) headers.ETag = use('ETag')
        response.headers = { ...response.headers, ...headers }
      }
    }
  }
  return spec
}

/** The OpenAPI document, built from the routes' own TypeBox schemas; served as JSON, YAML and at /docs. */
export default fp<{ version: string }>(async (app, { version }) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cohesion API',
        version,
        description: API_DESCRIPTION,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        contact: { name: 'Cohesion maintainers' }
      },
      tags: [
        { name: 'city', description: 'The caller\'s city: its name, timezone, languages and statistics settings.' },
        { name: 'api-keys', description: 'Keys for portals, partners and analysts; secrets are shown once.' },
        { name: 'audit-events', description: 'Who did what to which object, and when. Append-only.' },
        { name: 'incidents', description: 'Bias-incident and hate-crime reports: single and bulk ingest, the case workflow, possible duplicates, erasure of personal data.' },
        { name: 'stakeholders', description: 'The people and organisations of the prevention work, the four legs of the stool, the leadership group; contact details only with stakeholders:read_contact.' },
        { name: 'stakeholder-relationships', description: 'Ties between stakeholders (collaboration, trust, referral, funding, communication), with their strength and period.' },
        { name: 'meetings', description: 'Convenings of the leadership group, workshops, trainings, community dialogues and briefings, and who came.' },
        { name: 'programs', description: 'The directory of programs the plan and case workers can draw on, with their public contact.' },
        { name: 'stakeholder-network', description: 'The assessment of the four-legged stool: each leg\'s engagement, the ties between legs, brokers, isolated stakeholders, attendance and suggestions.' },
        { name: 'kpis', description: 'Key performance indicators: definitions with baselines and targets, manual values, computed series with small counts suppressed, and a summary for dashboards.' },
        { name: 'taxonomies', description: 'The versioned FBI NIBRS code lists incidents are classified with.' },
        { name: 'health', description: 'Liveness and readiness for orchestrators; no key needed.' }
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'coh_ API key', description: scopesDescription() }
        }
      }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    },
    transformObject: (documents) => finishDocument((documents as { openapiObject: OpenApiDocument }).openapiObject),
    hiddenTag: 'hidden',
    hideUntagged: true
  })

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { docExpansion: 'list', deepLinking: true, defaultModelsExpandDepth: 0 }
  })

  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger())
  app.get('/openapi.yaml', { schema: { hide: true }, config: { rateLimit: false } }, async (_request, reply) =>
    reply.type('application/yaml').send(app.swagger({ yaml: true })))
}, { name: 'openapi' })
