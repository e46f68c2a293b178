import cors from '@fastify/cors'
import helmet, { type HelmetOptions } from 'helmet'
import rateLimit from '@fastify/rate-limit'
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { ProblemError } from '../lib/problems.js'
import { sendProblem } from './problems.js'

/** How often the load shedding samples the event loop's delay (the mean over the interval before). */
export const LOAD_SAMPLE_INTERVAL_MS = 1000

export interface ProtectionOptions {
  corsOrigins: string[]
  rateLimitMax: number
  rateLimitWindowMs: number
  maxEventLoopDelayMs: number
}

/**
 * The HTTP safety layer, all from well-kept libraries: security headers (helmet), a CORS
 * allow-list for city portals (@fastify/cors), a request allowance per API key (@fastify/rate-limit, with
 * RateLimit-* headers), and load shedding (@fastify/under-pressure) answering 503 before the process drowns.
 */
export default fp<ProtectionOptions>(async (app, options) => {
  // Helmet's headers depend on its options only, so they are worked out once, by helmet itself, and set on
  // every answer in one step (the Fastify wrapper builds helmet's middleware again for every request). The set
  // is the one OWASP's REST Security Cheat Sheet gives for APIs (no-store, frame-ancestors 'none', HSTS, nosniff,
  // DENY); helmet's headers for browser documents (referrer policy, resource and opener isolation, DNS prefetch,
  // IE downloads, Flash policies, the XSS auditor, origin clusters) protect pages and the cookies they carry,
  // and an API answering bearer-authenticated JSON has neither: they are left out. Every header is a cost on
  // every answer. Answers may carry personal data: nothing stores them.
  const securityHeaders = {
    ...helmetHeaders({
      // An API answers JSON: nothing it sends may run scripts or be framed. /docs sets its own policy.
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      frameguard: { action: 'deny' },
      crossOriginResourcePolicy: false,
      crossOriginOpenerPolicy: false,
      referrerPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false
    }),
    'cache-control': 'no-store'
  }
  app.addHook('onRequest', (_request, reply, done) => { reply.headers(securityHeaders); done() })

  // Without a configured portal no browser page may read an answer, which is what no CORS headers at all says:
  // the plugin, and the hook it runs on every request, are left out.
  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: options.corsOrigins,
      // Every method the spec uses, and every response header it documents, so a browser portal can use them all.
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-match', 'x-request-id', 'accept'],
      exposedHeaders: ['etag', 'location', 'content-disposition', 'retry-after', 'x-request-id', 'idempotent-replayed', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
      maxAge: 600
    })
  }

  await app.register(rateLimit, {
    global: true,
    max: options.rateLimitMax,
    timeWindow: options.rateLimitWindowMs,
    enableDraftSpec: true,
    // Counted per API key, and per client address (behind a proxy, the one TRUST_PROXY names) for requests
    // without a valid key: a missing key, a wrong one, or keys made up by the hundred all draw on their
    // address's allowance, and the auth plugin stops looking up an address's new guesses once it is spent.
    keyGenerator: (request) => app.rateLimitSubject(request),
    errorResponseBuilder: (_request, context) => new ProblemError('rate_limited', `The allowance of ${context.max} requests per ${context.after} is used up.`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) }
    })
  })

  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      sampleInterval: LOAD_SAMPLE_INTERVAL_MS,
      retryAfter: 10,
      exposeStatusRoute: false,
      pressureHandler: (request, reply) => {
        sendProblem(request, reply, 'service_unavailable', 'The service is overloaded; retry shortly.', { headers: { 'retry-after': '10' } })
      }
    })
  }
}, { name: 'protection', dependencies: ['problems', 'auth'] })

/** The headers helmet sets with these options, recorded from one run of its middleware. */
function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as never, response as never, () => {})
  return headers
}
