import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { problemBody, ProblemError, type FieldError, type ProblemCode } from '../lib/problems.js'
import { databaseError, isDatabaseUnavailable } from '../lib/db-errors.js'
import { fieldErrors, type ValidationIssue } from '../lib/validation.js'

const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_body',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_ASYNC_CONSTRAINT: 'bad_request'
}

/** Seconds a client is asked to wait when the database is unreachable: about one reconnection attempt. */
const DATABASE_RETRY_AFTER_S = 2

/** Maps any error to a problem code and client-safe detail; everything unknown is a 500 that says nothing. */
function classify (error: FastifyError & { validation?: ValidationIssue[], validationContext?: string }): { code: ProblemCode, detail: string, errors?: FieldError[], headers?: Record<string, string>, status?: number } {
  if (error instanceof ProblemError) {
    return { code: error.code, detail: error.message, ...(error.errors ? { errors: error.errors } : {}), headers: error.headers }
  }
  if (error.validation !== undefined) {
    // Fastify names the query part `querystring`; the documented pointers start with /query, like /query/cursor.
    const part = error.validationContext === 'querystring' ? 'query' : error.validationContext ?? 'body'
    const errors = fieldErrors(error.validation, part)
    return { code: 'validation_failed', detail: errors.map((e) => `${e.path} ${e.message}`).join('; ').slice(0, 2000) || 'The request is not valid.', errors }
  }
  const mapped = error.code !== undefined ? FASTIFY_CODES[error.code] : undefined
  if (mapped !== undefined) return { code: mapped, detail: safeDetail(mapped, error) }
  if (error instanceof SyntaxError) return { code: 'malformed_body', detail: 'The body is not well-formed JSON.' }
  if (isDatabaseUnavailable(error)) {
    return { code: 'service_unavailable', detail: 'The database cannot be reached right now. Retry after Retry-After seconds; with the same Idempotency-Key a retry is safe.', headers: { 'retry-after': String(DATABASE_RETRY_AFTER_S) } }
  }
  const sqlState = databaseError(error)?.sqlstate
  if (sqlState === '23505') return { code: 'conflict', detail: 'A value that must be unique is already taken.' }
  if (sqlState === '23503') return { code: 'conflict', detail: 'A referenced object does not exist in this city.' }
  // Class 22 is PostgreSQL refusing a value it was sent (a NUL character, a number out of range): the input's fault.
  if (sqlState !== undefined && sqlState.startsWith('22')) return { code: 'bad_request', detail: 'A value in the request cannot be stored as sent.' }
  const status = error.statusCode
  if (status === 429) return { code: 'rate_limited', detail: 'Too many requests.' }
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's and plugins' own client errors: keep their status, never their internals.
    return { code: status === 404 ? 'not_found' : status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : 'bad_request', detail: 'The request cannot be served as sent.', status }
  }
  return { code: 'internal_error', detail: 'An unexpected error occurred; it has been logged with the request id.' }
}

function safeDetail (code: ProblemCode, error: FastifyError): string {
  switch (code) {
    case 'unsupported_media_type': return 'This operation accepts application/json bodies.'
    case 'payload_too_large': return 'The request body exceeds the size this operation accepts.'
    case 'malformed_body': return error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'The body is empty but the content type says JSON.' : 'The body is not well-formed JSON.'
    default: return 'The request cannot be served as sent.'
  }
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, code: ProblemCode, detail: string, extra: { errors?: FieldError[], headers?: Record<string, string>, status?: number } = {}): FastifyReply {
  const body = problemBody(code, detail, { instance: request.url.split('?')[0] ?? '/', requestId: String(request.id), ...(extra.errors ? { errors: extra.errors } : {}), ...(extra.status ? { status: extra.status } : {}) })
  return reply.code(body.status).headers(extra.headers ?? {}).type('application/problem+json').send(body)
}

/** Every failure, Fastify's own included, leaves as an RFC 9457 problem. */
export default fp(async (app) => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = classify(error)
    if (error instanceof ProblemError && error.retryable) request.retryable = true
    if (problem.code === 'internal_error') {
      request.log.error({ err: error }, 'request failed')
    } else if (problem.code === 'service_unavailable') {
      request.log.warn({ err: error }, 'request refused: database unavailable')
    } else {
      request.log.info({ problem: problem.code, status: error.statusCode }, 'request refused')
    }
    return sendProblem(request, reply, problem.code, problem.detail, problem)
  })

  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, 'not_found', `No route ${request.method} ${request.url.split('?')[0] ?? ''}.`))
}, { name: 'problems' })
