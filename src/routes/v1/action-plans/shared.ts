import Type from 'typebox'
import { ProblemError, type FieldError } from '../../../lib/problems.js'

export const TAG = 'action-plans'
export const READ = 'plans:read'
export const WRITE = 'plans:write'

export const IfMatch = Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) })

/** A change refused by the rules, paths relative to the body: 400. */
export const invalid = (what: string, problems: FieldError[]): ProblemError =>
  new ProblemError('validation_failed', `The change would leave the ${what} invalid.`, { errors: problems.map((p) => ({ ...p, path: `/body${p.path}` })) })

/** A body that refers to what the city does not have, or to money in another currency: 422 naming each item. */
export const unprocessable = (problems: FieldError[]): ProblemError =>
  new ProblemError('unprocessable', 'The request refers to records this city does not have, or to amounts in another currency than the plan\'s; errors lists each one.', {
    errors: problems.map((p) => ({ ...p, path: `/body${p.path}` }))
  })

/** A node that still has children, deleted without ?cascade=true. */
export function refuseChildren (kind: string, children: Record<string, number>): void {
  const named = Object.entries(children).filter(([, n]) => n > 0)
  if (named.length === 0) return
  throw new ProblemError('conflict', `This ${kind} still has ${named.map(([what, n]) => `${n} ${what}`).join(' and ')}; delete them first, or send ?cascade=true to delete them with it.`, {
    errors: [{ path: '/params/id', message: `has ${named.map(([what, n]) => `${n} ${what}`).join(' and ')}` }]
  })
}
