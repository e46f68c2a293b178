import { sql } from 'drizzle-orm'
import { query, textArrayLiteral, type Executor } from '../db/client.js'
import type { Caller } from '../plugins/auth.js'
import { ProblemError } from './problems.js'
import { grants } from './scopes.js'

/**
 * A place that can point at a record: a table and the column holding the record's id (city_id is implied), or
 * with `array`, a uuid[] column holding ids among others (looked into with @>, which its GIN index serves).
 */
export interface Reference {
  what: string
  table: string
  column: string
  array?: boolean
  /**
   * The scope that reads the referrers, where the record's own read scope does not; `sourced`: they belong to
   * incidents' sources, which a partner's key sees only in part. A key that cannot read them all is refused the
   * deletion for what it holds, before anything is looked up: a 409 would tell it that such a referrer exists.
   */
  seenWith?: { scope: string, sourced?: boolean }
}

/**
 * Refuses to delete a record that others point at, with a 409 naming each kind of referrer: one query with an
 * EXISTS per place. A record that is referred to is archived instead (active: false), so that what pointed at
 * it keeps its meaning.
 */
export async function refuseDeleteIfReferenced (db: Executor, caller: Pick<Caller, 'cityId' | 'scopes' | 'sources'>, id: string, kind: string, references: Reference[],
  instead = 'Archive it with PATCH {"active": false} instead.'): Promise<void> {
  if (references.length === 0) return
  const cityId = caller.cityId
  const unseen = references.filter((r) => r.seenWith !== undefined && (!grants(caller.scopes, r.seenWith.scope) || (r.seenWith.sourced === true && caller.sources !== null)))
  if (unseen.length > 0) {
    const needs = [...new Set(unseen.map((r) => `${r.what} (${r.seenWith?.scope ?? ''}${r.seenWith?.sourced === true ? ', with no sources limit' : ''})`))]
    throw new ProblemError('forbidden', `Whether this ${kind} can be deleted depends on ${needs.join(', ')}, which this key cannot read. ${instead}`)
  }
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

/**
 * Which of the ids a request names are records of the city, for any number of tables in one statement (a
 * UNION ALL of one indexed look-up per table): `wanted` maps a table to the ids looked for in it, the answer
 * maps it to those found, as PostgreSQL writes them (lowercase). Another city's record is not found, exactly
 * like a missing one, so that the two are refused alike.
 */
export async function recordsOfCity (db: Executor, cityId: string, wanted: ReadonlyMap<string, ReadonlySet<string>>): Promise<Map<string, Set<string>>> {
  const found = new Map<string, Set<string>>([...wanted.keys()].map((table) => [table, new Set<string>()]))
  const lookups = [...wanted].filter(([, ids]) => ids.size > 0).map(([table, ids]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`table name ${table} cannot be written into SQL`)
    return sql`SELECT ${table}::text AS kind, id::text AS id FROM ${sql.raw(table)} WHERE city_id = ${cityId}::uuid AND id = ANY(${textArrayLiteral([...ids])}::uuid[])`
  })
  if (lookups.length === 0) return found
  const rows = await query<{ kind: string, id: string }>(db, sql.join(lookups, sql` UNION ALL `))
  for (const row of rows) found.get(row.kind)?.add(row.id)
  return found
}
