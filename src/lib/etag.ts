import type { FastifyRequest } from 'fastify'
import { ProblemError } from './problems.js'

/** A strong ETag from an object's id and version: it changes with every write. */
export const etagOf = (id: string, version: number): string => `"${id.slice(-12)}-${version}"`

/**
 * Returns the version the client last saw, from `If-Match`. Missing is 428 (a blind overwrite could undo
 * someone else's change); a tag of another object or version is 412.
 */
export function expectedVersion (request: FastifyRequest, id: string): number | '*' {
  const header = request.headers['if-match']
  if (header === undefined || header === '') {
    throw new ProblemError('precondition_required', 'Send the ETag from your last read in If-Match.')
  }
  const tags = header.split(',').map((t) => t.trim())
  if (tags.includes('*')) return '*'
  const prefix = `"${id.slice(-12)}-`
  for (const tag of tags) {
    if (tag.startsWith(prefix) && tag.endsWith('"')) {
      const version = Number(tag.slice(prefix.length, -1))
      if (Number.isInteger(version) && version > 0) return version
    }
  }
  throw stale()
}

export const stale = (): ProblemError => new ProblemError('precondition_failed', 'The object was changed since the ETag in If-Match was issued.')
