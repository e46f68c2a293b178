/**
 * Database errors as the rest of the app needs to see them. Drizzle wraps a driver's error in a
 * DrizzleQueryError whose message holds the SQL and its parameters (`cause` keeps the driver's error), and
 * both drivers put values into their own messages ("invalid input syntax for type uuid: "…""). So errors are
 * classified by what they carry besides the message: the SQLSTATE, and for connection failures the
 * socket's error code or the driver's fixed wording.
 */

/** What a log line may say about a database error: identifiers only, never a value the query carried. */
export interface DatabaseErrorFacts {
  sqlstate: string
  severity?: string
  constraint?: string
  table?: string
  column?: string
  routine?: string
}

const SQLSTATE = /^[0-9A-Z]{5}$/
const MAX_DEPTH = 8

/** The error and the causes it wraps, outermost first. */
function * chain (error: unknown): Generator<Record<string, unknown>> {
  let current: unknown = error
  for (let depth = 0; depth < MAX_DEPTH && current !== null && typeof current === 'object'; depth++) {
    yield current as Record<string, unknown>
    current = (current as { cause?: unknown }).cause
  }
}

const text = (value: unknown): string | undefined => typeof value === 'string' && value.length > 0 && value.length <= 128 ? value : undefined

/** The PostgreSQL error inside `error`, however deeply wrapped; null when the failure did not come from the server. */
export function databaseError (error: unknown): DatabaseErrorFacts | null {
  for (const link of chain(error)) {
    const code = link.code
    if (typeof code === 'string' && SQLSTATE.test(code) && ('severity' in link || 'routine' in link || 'constraint' in link || link.name === 'DatabaseError')) {
      const facts: DatabaseErrorFacts = { sqlstate: code }
      for (const key of ['severity', 'constraint', 'table', 'column', 'routine'] as const) {
        const value = text(link[key])
        if (value !== undefined) facts[key] = value
      }
      return facts
    }
  }
  return null
}

/** Socket errors that mean the server cannot be reached (or dropped the connection). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED'])

/** node-postgres and PGlite report a lost or refused connection in these fixed words, without a code. */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'PGlite is closed',
  'Query read timeout'
]

/**
 * SQLSTATEs that say "not now" rather than "not this": connection exceptions (class 08), the server shutting
 * down or starting up (57P01–57P03), too many connections (53300), a cancelled or timed-out statement (57014),
 * and a serialization failure or deadlock (40001, 40P01), which the same request can clear on a retry.
 */
function unavailableState (sqlstate: string): boolean {
  return sqlstate.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '57014', '40001', '40P01'].includes(sqlstate)
}

/** Whether the database is unreachable or asked for a retry: answered 503 with Retry-After, never 500. */
export function isDatabaseUnavailable (error: unknown): boolean {
  const facts = databaseError(error)
  if (facts !== null) return unavailableState(facts.sqlstate)
  for (const link of chain(error)) {
    if (typeof link.code === 'string' && NETWORK_CODES.has(link.code)) return true
    const message = link.message
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) return true
  }
  return false
}

/** The error's stack frames, without the first line (which repeats the message, and with it the SQL). */
function frames (stack: unknown): string {
  if (typeof stack !== 'string') return ''
  return stack.split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 12).join('\n')
}

export interface SerializedError { type: string, message: string, stack: string, [key: string]: unknown }

/**
 * The log serializer for `err`: a database error is logged by its SQLSTATE, constraint, table and column and
 * its stack frames, never by its message (which holds the query, its parameters, or the offending value).
 * Other errors keep their type, code and message.
 */
export function serializeError (error: unknown): SerializedError {
  if (error === null || typeof error !== 'object') return { type: typeof error, message: String(error).slice(0, 200), stack: '' }
  const e = error as Error & { code?: unknown }
  const type = e.constructor?.name ?? 'Error'
  const facts = databaseError(error)
  if (facts !== null) return { type, message: `database error ${facts.sqlstate}`, ...facts, stack: frames(e.stack) }
  // A wrapper around a non-database failure (a socket error, say) has the query text for its own message.
  const wrapper = type === 'DrizzleQueryError'
  const out: SerializedError = { type, message: wrapper ? 'query failed' : String(e.message).slice(0, 500), stack: frames(e.stack) }
  if (typeof e.code === 'string') out.code = e.code
  if (e.cause !== undefined) out.cause = serializeError(e.cause)
  return out
}
