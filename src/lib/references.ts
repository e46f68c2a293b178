import { sql } from 'drizzle-orm'
import { query, type Executor } from '../db/client.js'
import { ProblemError } from './problems.js'

/**
 * A place that can point at a record: a table and the column holding the record's id (city_id is implied), or
 * with `array`, a uuid[] column holding ids among others (looked into with @>, which its GIN index serves).
 */
export interface Reference { what: string, table: string, column: string, array?: boolean }

/**
 * Refuses to delete a record that others point at, with a 409 naming each kind of referrer: one query with an
 * EXISTS per place. A record that is referred to is archived instead (active: false), so that what pointed at
 * it keeps its meaning.
 */
export async function refuseDeleteIfReferenced (db: Executor, cityId: string, id: string, kind: string, references: Reference[],
  instead = 'Archive it with PATCH {"active": false} instead.'): Promise<void> {
  if (references.length === 0) return
  const points = (r: Reference) => r.array === true ? sql`${sql.raw(r.column)} @> ARRAY[${id}::uuid]` : sql`${sql.raw(r.column)} = ${id}::uuid`
  const checks = sql.join(references.map((r, i) => sql`EXISTS (SELECT 1 FROM ${sql.raw(r.table)} WHERE city_id = ${cityId} AND ${points(r)}) AS ${sql.raw(`r${i}`)}`), sql`, `)
  const [row] = await query<Record<string, boolean>>(db, sql`SELECT ${checks}`)
  const referrers = [...new Set(references.filter((_r, i) => row?.[`r${i}`] === true).map((r) => r.what))]
  if (referrers.length > 0) {
    throw new ProblemError('conflict', `This ${kind} is referred to by ${referrers.join(', ')}; it cannot be deleted. ${instead}`, {
      errors: referrers.map((what) => ({ path: '/params/id', message: `is referred to by ${what}` }))
    })
  }
}
