import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import { serializeError } from './lib/db-errors.js'
import { withoutWithheld } from './lib/log-redaction.js'
import { deferredRequestLogger } from './lib/request-logger.js'
import { problemBody, ProblemError } from './lib/problems.js'
import { sharedSchemas } from './lib/schemas.js'
import { MERGE_PATCH_TYPE } from './lib/merge-patch.js'
import { unusableJson, validatorCompiler } from './lib/validation.js'
import auth from './plugins/auth.js'
import db from './plugins/db.js'
import idempotency from './plugins/idempotency.js'
import keys from './plugins/keys.js'
import openapi from './plugins/openapi.js'
import problems from './plugins/problems.js'
import protection from './plugins/protection.js'
import health from './routes/health/index.js'
import apiKeys from './routes/v1/api-keys/index.js'
import auditEvents from './routes/v1/audit-events/index.js'
import city from './routes/v1/city/index.js'
import incidents from './routes/v1/incidents/index.js'
import incidentReports from './routes/v1/incidents/reports.js'
import exportsRoutes from './routes/v1/exports/index.js'
import stakeholderNetwork from './routes/v1/stakeholder-network/index.js'
import kpis from './routes/v1/kpis/index.js'
import meetings from './routes/v1/meetings/index.js'
import programs from './routes/v1/programs/index.js'
import actionPlans from './routes/v1/action-plans/index.js'
import stakeholderRelationships from './routes/v1/stakeholder-relationships/index.js'
import stakeholders from './routes/v1/stakeholders/index.js'
import surveys from './routes/v1/surveys/index.js'
import surveyResults from './routes/v1/surveys/results.js'
import surveyResponsesExport from './routes/v1/surveys/export.js'
import taxonomies from './routes/v1/taxonomies/index.js'

export const version: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Longer path parameters (ids are 36 characters) are refused by the router with a 414. */
const MAX_PARAM_LENGTH = 200

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The production logger's options: level from the config, credentials and personal fields withheld. */
export const loggerOptions = (config: Config) => ({
  level: config.LOG_LEVEL,
  formatters: { log: withoutWithheld },
  // Errors are logged by what identifies them, never by a database error's message (the query and its values).
  serializers: { err: serializeError }
})

/** A logger already made (the server's, on its own destination), or logger options, or none. */
export type AppLogger = FastifyServerOptions['logger'] | FastifyBaseLogger

const isInstance = (logger: AppLogger): logger is FastifyBaseLogger => typeof (logger as { child?: unknown } | undefined)?.child === 'function'

export function serverOptions (config: Config, logger: AppLogger = true): FastifyServerOptions {
  return {
    ...(isInstance(logger) ? { loggerInstance: logger } : { logger: logger === true ? loggerOptions(config) : logger }),
    // A caller's own request id is kept when it is sane, so a portal can follow one request across systems.
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
    },
    logController: new OneLinePerRequest({ requestIdLogLabel: 'request_id' }),
    childLoggerFactory: deferredRequestLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: true,
    clientErrorHandler: problemOnClientError,
    frameworkErrors: problemOnRouterError(config.corsOrigins),
    // Installed as a factory so that every plugin context, including those that add schemas, validates with it.
    schemaController: { compilersFactory: { buildValidator: () => validatorCompiler as never } }
  }
}

/**
 * One log line per completed request — method, route, status, time, and the request id every line carries —
 * instead of Fastify's two (incoming and completed, each with the request or reply serialized).
 */
class OneLinePerRequest extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }
    if (error) reply.log.error({ ...line, err: error }, 'request failed while sending')
    else reply.log.info(line, 'request completed')
  }
}

/** Requests Node's parser refuses (headers too large, broken request line) still get a problem document. */
function problemOnClientError (err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) { socket.destroy(); return }
  const [status, code] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'request_header_fields_too_large'] as const
    : err.code === 'HPE_URI_TOO_LONG' ? [414, 'uri_too_long'] as const : [400, 'bad_request'] as const
  const body = JSON.stringify(problemBody(code, 'The request could not be parsed.', { status }))
  socket.end(`HTTP/1.1 ${status} ${code.replace(/_/g, ' ')}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/**
 * The router's own refusals (a path segment longer than maxParamLength, a malformed URL) happen before any
 * route or hook runs: they are answered here, as problems like every other answer, with the headers the hooks
 * would have set — the request id, no sniffing, and CORS for a configured portal so that its page can read it.
 */
function problemOnRouterError (corsOrigins: string[]) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const [status, code, detail] = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? [414, 'uri_too_long', `A path segment is longer than ${MAX_PARAM_LENGTH} characters.`] as const
      : [400, 'bad_request', 'The URL is not valid.'] as const
    const body = problemBody(code, detail, { status, instance: request.url.split('?')[0] ?? '/', requestId: String(request.id) })
    const origin = request.headers.origin
    if (origin !== undefined && corsOrigins.includes(origin)) reply.header('access-control-allow-origin', origin).header('vary', 'Origin')
    reply.code(status).header('x-request-id', request.id).header('x-content-type-options', 'nosniff').type('application/problem+json').send(body)
  }
}

export interface AppOptions {
  config: Config
  database: Database
}

/**
 * The whole app: cross-cutting plugins, then the resources. Tests build exactly this, with their own
 * database and logger.
 */
export async function buildApp ({ config, database }: AppOptions, logger: AppLogger = true): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, logger)).withTypeProvider<TypeBoxTypeProvider>()
  // Operations take JSON only (the spec lists no other body type), so text/plain is a 415, not a string that
  // then fails validation as a 400. A route that accepts text registers its own parser.
  app.removeContentTypeParser('text/plain')
  // A parsed body PostgreSQL cannot store (a NUL character), too deep to walk safely, or carrying a prototype
  // member is refused at the door, with the same problem as bad JSON; unusableJson looks for all three in one
  // walk, so the parser does not scan the text for prototype members first. PATCH bodies may say what they are:
  // a JSON Merge Patch.
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(['application/json', MERGE_PATCH_TYPE], { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, String(body), (err, value) => {
      if (err !== null) { done(err, undefined); return }
      const unusable = unusableJson(value)
      if (unusable !== null) done(new ProblemError('malformed_body', unusable), undefined)
      else done(null, value)
    })
  })
  for (const schema of sharedSchemas) app.addSchema(schema)

  app.addHook('onRequest', (request, reply, done) => { reply.header('x-request-id', request.id); done() })

  await app.register(problems)
  await app.register(db, { database })
  await app.register(keys, { encryptionKey: config.ENCRYPTION_KEY })
  await app.register(openapi, { version })
  await app.register(auth, { cacheTtlMs: config.AUTH_CACHE_TTL_MS, rateLimitMax: config.RATE_LIMIT_MAX, rateLimitWindowMs: config.RATE_LIMIT_WINDOW_MS })
  await app.register(protection, {
    corsOrigins: config.corsOrigins,
    rateLimitMax: config.RATE_LIMIT_MAX,
    rateLimitWindowMs: config.RATE_LIMIT_WINDOW_MS,
    maxEventLoopDelayMs: config.MAX_EVENT_LOOP_DELAY_MS
  })
  await app.register(idempotency, { ttlHours: config.IDEMPOTENCY_TTL_HOURS })

  await app.register(health, { prefix: '/health' })
  await app.register(city, { prefix: '/v1/city' })
  await app.register(apiKeys, { prefix: '/v1/api-keys' })
  await app.register(auditEvents, { prefix: '/v1/audit-events' })
  await app.register(taxonomies, { prefix: '/v1/taxonomies' })
  await app.register(stakeholderNetwork, { prefix: '/v1/stakeholder-network' })
  await app.register(incidents, { prefix: '/v1/incidents' })
  await app.register(incidentReports, { prefix: '/v1/incident-reports' })
  await app.register(exportsRoutes, { prefix: '/v1/exports' })
  await app.register(stakeholderRelationships, { prefix: '/v1/stakeholder-relationships' })
  await app.register(kpis, { prefix: '/v1/kpis' })
  await app.register(meetings, { prefix: '/v1/meetings' })
  await app.register(programs, { prefix: '/v1/programs' })
  // /v1/action-plans, /v1/goals, /v1/objectives and /v1/actions: one plugin each, sharing the plan's schemas.
  await app.register(actionPlans, { prefix: '/v1' })
  await app.register(stakeholders, { prefix: '/v1/stakeholders' })
  await app.register(surveys, { prefix: '/v1/surveys' })
  await app.register(surveyResults, { prefix: '/v1/surveys' })
  await app.register(surveyResponsesExport, { prefix: '/v1/surveys' })
  return app
}
