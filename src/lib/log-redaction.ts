/**
 * Member names whose values never reach a log line, wherever they appear in a logged object: credentials, and
 * the personal data of reporters, respondents and stakeholders. A defence in depth: the code logs ids, codes
 * and counts, and errors through their own serializer (lib/db-errors.ts).
 */
const WITHHELD = new Set([
  'authorization', 'cookie', 'set-cookie', 'idempotency-key', 'key', 'secret', 'password',
  'reporter', 'narrative', 'address', 'email', 'phone', 'latitude', 'longitude', 'contact', 'body'
])

const CENSOR = '[redacted]'
/** Logged objects are small; anything deeper than this is not walked (and holds nothing the code logs). */
const MAX_DEPTH = 4

const isPlain = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null || Array.isArray(value)
}

function withheld (value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object' || !isPlain(value)) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    value.forEach((item, index) => {
      const safe = withheld(item, depth + 1)
      if (safe !== item) (copy ??= [...value])[index] = safe
    })
    return copy ?? value
  }
  let copy: Record<string, unknown> | undefined
  for (const [name, item] of Object.entries(value)) {
    const safe = WITHHELD.has(name.toLowerCase()) ? CENSOR : withheld(item, depth + 1)
    if (safe !== item) (copy ??= { ...value } as Record<string, unknown>)[name] = safe
  }
  return copy ?? value
}

/**
 * pino's `formatters.log`: the logged object with every withheld member censored, copied only where one is
 * found. Walking a few small objects costs a fraction of pino's wildcard redaction paths, which cost more than
 * the rest of a log line.
 */
export const withoutWithheld = (object: Record<string, unknown>): Record<string, unknown> => withheld(object, 0) as Record<string, unknown>
