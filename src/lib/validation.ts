import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import type { FieldError } from './problems.js'
import { referencedSchema } from './schemas.js'

type Property = { type?: string, anyOf?: Property[] }

/** Whether a union or a type accepts JSON type `name`. */
const accepts = (schema: Property, name: string): boolean =>
  schema.type === name || (schema.anyOf ?? []).some((branch) => accepts(branch, name))

/**
 * Query strings, path parameters and headers are text. Text that spells a value of the declared type
 * exactly is converted ("25" to 25, "true" to true); anything else ("2.5" for an integer, "yes" for a
 * boolean) is left as text, so that validation refuses it instead of guessing.
 */
export function convertText (schema: TSchema, input: unknown): unknown {
  const properties = (schema as { properties?: Record<string, Property> }).properties
  if (properties === undefined || input === null || typeof input !== 'object') return input
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) }
  for (const [name, value] of Object.entries(out)) {
    const property = properties[name]
    if (property === undefined || typeof value !== 'string') continue
    if (accepts(property, 'integer') && /^-?(0|[1-9][0-9]{0,14})$/.test(value)) out[name] = Number(value)
    else if (accepts(property, 'number') && /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(value)) out[name] = Number(value)
    else if (accepts(property, 'boolean') && (value === 'true' || value === 'false')) out[name] = value === 'true'
  }
  return out
}

/**
 * Validates with TypeBox's compiler. Bodies are checked exactly as sent (a string where a number belongs is
 * a 400, never silently converted); query strings, path parameters and headers arrive as text, so they are
 * converted to the declared types and given their defaults first.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(referencedSchema(schema))
  return (input: unknown) => {
    if (httpPart !== 'body' && input !== null && typeof input === 'object') {
      // Text PostgreSQL cannot store; bodies are checked for it when parsed.
      const nul = Object.entries(input).find(([, v]) => typeof v === 'string' && v.includes('\u0000'))
      if (nul !== undefined) return { error: [{ instancePath: `/${nul[0]}`, keyword: 'nul', message: 'must not contain NUL characters' }] as unknown as Error }
    }
    const value = httpPart === 'body' ? input : convertText(schema, Value.Default(schema, input))
    if (validator.Check(value)) return { value }
    return { error: [...validator.Errors(value)] as unknown as Error }
  }
}

export interface ValidationIssue { instancePath?: string, message?: string, keyword?: string, params?: Record<string, unknown> }

/** Turns validator output into one entry per failing path, prefixed by the request part. */
export function fieldErrors (issues: ValidationIssue[], part: string): FieldError[] {
  const out: FieldError[] = []
  const seen = new Set<string>()
  // A value that fits none of a union's branches gets one message naming them, not one per branch.
  const unions = new Set(issues.filter((i) => i.keyword === 'anyOf').map((i) => i.instancePath ?? ''))
  for (const path of unions) {
    const messages = issues.filter((i) => (i.instancePath ?? '') === path && i.keyword !== 'anyOf').map((i) => i.message ?? '')
    // "must be string" and "must be null" read "must be string or null"; with any other kind of message among
    // them, each keeps its own verb: "must match format "email" or be null".
    const text = messages.length === 0
      ? 'is not valid'
      : messages.every((m) => m.startsWith('must be '))
        ? `must be ${messages.map((m) => m.slice('must be '.length)).join(' or ')}`
        : `must ${messages.map((m) => m.replace(/^must /, '')).join(' or ')}`
    add(`/${part}${path}`, text)
  }
  for (const issue of issues) {
    const base = `/${part}${issue.instancePath ?? ''}`
    if (issue.keyword === 'boolean' || unions.has(issue.instancePath ?? '')) continue
    if (issue.keyword === 'additionalProperties') {
      const extra = issue.params?.additionalProperties
      for (const name of Array.isArray(extra) ? extra : [extra]) add(`${base}/${String(name)}`, 'is not a known field')
      continue
    }
    if (issue.keyword === 'required') {
      const missing = issue.params?.requiredProperties ?? issue.params?.missingProperty
      for (const name of Array.isArray(missing) ? missing : [missing]) add(`${base}/${String(name)}`, 'is required')
      continue
    }
    add(base, issue.message ?? 'is not valid')
  }
  return out

  function add (path: string, message: string): void {
    const k = `${path} ${message}`
    if (!seen.has(k)) { seen.add(k); out.push({ path, message }) }
  }
}

/** How deeply objects and arrays may nest in a body: far beyond any schema of the API, far below the stack's limit. */
export const MAX_JSON_DEPTH = 64

const NUL = 'Text must not contain NUL characters (\\u0000).'
const PROTOTYPE = 'Objects must not have a member named __proto__, nor a member named constructor holding a prototype.'
const hasOwn = Object.prototype.hasOwnProperty

/**
 * What makes a parsed JSON value unusable before any schema looks at it: a NUL character in a string or a
 * member name (PostgreSQL text cannot hold one), nesting deeper than MAX_JSON_DEPTH (every recursive walk
 * after this one, validation and hashing included, could exhaust the stack), or a member that could reach an
 * object's prototype once merged into another object (`__proto__`, or `constructor` holding a `prototype`),
 * found here in the one walk every body gets rather than by scanning its text beforehand. Walks with a stack
 * of its own, so no input can overflow this check itself. Returns the client-safe reason, or null.
 */
export function unusableJson (value: unknown): string | null {
  const values: unknown[] = [value]
  const depths: number[] = [0]
  while (values.length > 0) {
    const current = values.pop()
    const depth = depths.pop() as number
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return NUL
      continue
    }
    if (current === null || typeof current !== 'object') continue
    if (depth >= MAX_JSON_DEPTH) return `Objects and arrays must not nest more than ${MAX_JSON_DEPTH} levels deep.`
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) { values.push(current[i]); depths.push(depth + 1) }
      continue
    }
    const object = current as Record<string, unknown>
    for (const name in object) {
      if (name.includes('\u0000')) return NUL
      const item = object[name]
      if (name === '__proto__') return PROTOTYPE
      if (name === 'constructor' && item !== null && typeof item === 'object' && hasOwn.call(item, 'prototype')) return PROTOTYPE
      values.push(item)
      depths.push(depth + 1)
    }
  }
  return null
}
