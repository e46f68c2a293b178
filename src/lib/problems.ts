import Type, { type Static } from 'typebox'

/** The problem types this API answers with; `type` is `/problems/<code>`, documented at that path. */
export const PROBLEM_TYPES = {
  validation_failed: { status: 400, title: 'The request is not valid', description: 'A parameter, header or body field failed validation. `errors` lists each failing path.' },
  malformed_body: { status: 400, title: 'The request body could not be read', description: 'The body is not well-formed JSON (or NDJSON), or is empty where a body is required.' },
  invalid_cursor: { status: 400, title: 'The cursor is not valid here', description: 'The `cursor` was altered, or was issued for another list or another city. Start again without a cursor.' },
  bad_request: { status: 400, title: 'The request cannot be served', description: 'The request is malformed in a way that no more specific problem describes.' },
  unauthorized: { status: 401, title: 'A valid API key is required', description: 'Send `Authorization: Bearer <key>` with a key that exists, is not revoked and has not expired.' },
  forbidden: { status: 403, title: 'The API key may not do this', description: 'The key lacks a scope the operation needs, or is limited to other reporting sources.' },
  not_found: { status: 404, title: 'Not found', description: 'No such route, or no such object in the caller\'s city. Another city\'s objects answer this too.' },
  conflict: { status: 409, title: 'The request conflicts with the current state', description: 'A unique value is already taken, or a referenced object does not exist.' },
  idempotency_in_flight: { status: 409, title: 'A request with this Idempotency-Key is still being processed', description: 'Wait for the first request to finish, then retry: the retry replays its response.' },
  precondition_failed: { status: 412, title: 'The object has changed', description: 'The `If-Match` ETag is stale. Read the object again, re-apply the change, and send its current ETag.' },
  payload_too_large: { status: 413, title: 'The request body is too large', description: 'Split the request, e.g. into batches of at most the documented size.' },
  uri_too_long: { status: 414, title: 'The URL is too long', description: 'Shorten the query string.' },
  unsupported_media_type: { status: 415, title: 'The content type is not supported', description: 'Send `Content-Type: application/json` (or the types the operation lists).' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was used for a different request', description: 'An Idempotency-Key identifies one request; use a new key for a different body or operation.' },
  unprocessable: { status: 422, title: 'The request breaks a rule of the domain', description: 'The request is well-formed but not allowed in the object\'s current state.' },
  precondition_required: { status: 428, title: 'If-Match is required', description: 'Read the object first and send its ETag in `If-Match`, so that concurrent changes are not lost.' },
  rate_limited: { status: 429, title: 'Too many requests', description: 'The API key used its request allowance; retry after `Retry-After` seconds.' },
  request_header_fields_too_large: { status: 431, title: 'The request headers are too large', description: 'Send fewer or shorter headers.' },
  internal_error: { status: 500, title: 'Internal error', description: 'An unexpected failure; nothing about it is disclosed. Quote `request_id` when reporting it.' },
  service_unavailable: { status: 503, title: 'The service is temporarily unavailable', description: 'The service is overloaded or its database is unreachable; retry after `Retry-After` seconds.' }
} as const

export type ProblemCode = keyof typeof PROBLEM_TYPES

export const ProblemFieldError = Type.Object({
  path: Type.String({ maxLength: 500, description: 'JSON Pointer into the request, starting with its part: /body/name, /query/limit, /headers/if-match.' }),
  message: Type.String({ maxLength: 500 })
}, { additionalProperties: false })

export const ProblemSchema = Type.Object({
  type: Type.String({ maxLength: 200, description: 'A URI reference identifying the problem type.', examples: ['/problems/validation_failed'] }),
  title: Type.String({ maxLength: 200 }),
  status: Type.Integer({ format: 'int32', minimum: 400, maximum: 599 }),
  detail: Type.String({ maxLength: 2000 }),
  instance: Type.Optional(Type.String({ maxLength: 2000, description: 'The request path.' })),
  code: Type.String({ maxLength: 64, description: 'Stable machine-readable code; the last segment of `type`.' }),
  request_id: Type.Optional(Type.String({ maxLength: 128 })),
  errors: Type.Optional(Type.Array(ProblemFieldError, { maxItems: 100 }))
}, { $id: 'Problem', additionalProperties: false, description: 'An RFC 9457 problem details object.' })

export type Problem = Static<typeof ProblemSchema>
export type FieldError = Static<typeof ProblemFieldError>

/** An error that is the client's to fix (or a 503 to wait out); the error handler renders it as problem+json. */
export class ProblemError extends Error {
  readonly status: number
  readonly code: ProblemCode
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>
  /** The same request sent again may succeed (it met a concurrent write): no Idempotency-Key keeps this answer. */
  readonly retryable: boolean

  constructor (code: ProblemCode, detail?: string, options: { errors?: FieldError[], headers?: Record<string, string>, retryable?: boolean } = {}) {
    super(detail ?? PROBLEM_TYPES[code].title)
    this.code = code
    this.status = PROBLEM_TYPES[code].status
    this.errors = options.errors
    this.headers = options.headers ?? {}
    this.retryable = options.retryable ?? false
  }
}

export function problemBody (code: ProblemCode, detail: string, extra: { instance?: string, requestId?: string, errors?: FieldError[], status?: number } = {}): Problem {
  const body: Problem = {
    type: `/problems/${code}`,
    title: PROBLEM_TYPES[code].title,
    status: extra.status ?? PROBLEM_TYPES[code].status,
    detail,
    code
  }
  if (extra.instance !== undefined) body.instance = extra.instance
  if (extra.requestId !== undefined) body.request_id = extra.requestId
  if (extra.errors !== undefined && extra.errors.length > 0) body.errors = extra.errors.slice(0, 100)
  return body
}

export const notFound = (what = 'object'): ProblemError => new ProblemError('not_found', `No such ${what} in this city.`)

/** One invalid field, reported in the same shape as schema validation failures. */
export const invalidField = (path: string, message: string): ProblemError =>
  new ProblemError('validation_failed', `${path} ${message}`, { errors: [{ path, message }] })
