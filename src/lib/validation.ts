import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import type { FieldError } from './problems.js'
import { referencedSchema } from './schemas.js'

/**
 * Validates with TypeBox's compiler. Bodies are checked exactly as sent (a string where a number belongs is
 * a 400, never silently converted); query strings, path parameters and headers arrive as text, so they are
 * converted to the declared types and given their defaults first.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(referencedSchema(schema))
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, Value.Default(schema, input))
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
    const alternatives = issues.filter((i) => (i.instancePath ?? '') === path && i.keyword !== 'anyOf').map((i) => (i.message ?? '').replace(/^must be /, ''))
    add(`/${part}${path}`, alternatives.length > 0 ? `must be ${alternatives.join(' or ')}` : 'is not valid')
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

