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
Every response carries \`x-request-id\` and the \`RateLimit-*\` headers of the caller's allowance.

**Personal data.** Victims' and reporters' identities are never in a response unless the key holds a
personal-data scope, which even \`admin\` does not imply.`

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
      servers: [{ url: '/', description: 'This server' }],
      tags: [
        { name: 'city', description: 'The caller\'s city: its name, timezone, languages and statistics settings.' },
        { name: 'api-keys', description: 'Keys for portals, partners and analysts; secrets are shown once.' },
        { name: 'audit-events', description: 'Who did what to which object, and when. Append-only.' },
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
