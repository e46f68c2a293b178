import { and, eq, sql } from 'drizzle-orm'
import { QueryBuilder } from 'drizzle-orm/pg-core'
import { isoTimestamp, namedStatement, type Database, type Executor } from '../../../db/client.js'
import { cities } from '../../../db/schema/index.js'
import { newId } from '../../../lib/ids.js'
import type { City, CityPatch } from './schema.js'

type CityRow = typeof cities.$inferSelect

export function toCity (row: CityRow): City {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    state: row.state,
    population: row.population,
    timezone: row.timezone,
    default_language: row.defaultLanguage,
    languages: row.languages,
    small_cell_threshold: row.smallCellThreshold,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

/**
 * The city as GET /v1/city answers it, column for column, and its version for the ETag: the one read every
 * portal's requests make, so its rows go out as the driver parses them, with no mapping in between.
 */
const READ_CITY = namedStatement('read_city', new QueryBuilder().select({
  id: cities.id,
  slug: cities.slug,
  name: cities.name,
  state: cities.state,
  population: cities.population,
  timezone: cities.timezone,
  default_language: cities.defaultLanguage,
  languages: cities.languages,
  small_cell_threshold: cities.smallCellThreshold,
  version: cities.version,
  created_at: isoTimestamp(cities.createdAt, 'created_at'),
  updated_at: isoTimestamp(cities.updatedAt, 'updated_at')
}).from(cities).where(eq(cities.id, sql.placeholder('id'))))

export async function readCity (database: Database, cityId: string): Promise<(City & { version: number }) | undefined> {
  return (await database.prepared<City & { version: number }>(READ_CITY, [cityId]))[0]
}

const prepareGetCity = (db: Executor) =>
  db.select().from(cities).where(eq(cities.id, sql.placeholder('id'))).limit(1).prepare('get_city')
const getCityStatements = new WeakMap<Executor, ReturnType<typeof prepareGetCity>>()

/**
 * Every authenticated request of a portal reads its city: the query is built once per database handle and
 * runs as a prepared statement.
 */
export async function getCity (db: Executor, cityId: string): Promise<CityRow | undefined> {
  let statement = getCityStatements.get(db)
  if (statement === undefined) {
    statement = prepareGetCity(db)
    getCityStatements.set(db, statement)
  }
  const [row] = await statement.execute({ id: cityId })
  return row
}

export async function findCityBySlug (db: Executor, slug: string): Promise<CityRow | undefined> {
  const [row] = await db.select().from(cities).where(eq(cities.slug, slug)).limit(1)
  return row
}

export interface NewCity { slug: string, name: string, state?: string | null, population?: number | null, timezone?: string }

export async function createCity (db: Executor, city: NewCity): Promise<CityRow> {
  const [row] = await db.insert(cities).values({
    id: newId(),
    slug: city.slug,
    name: city.name,
    state: city.state ?? null,
    population: city.population ?? null,
    ...(city.timezone !== undefined ? { timezone: city.timezone } : {})
  }).returning()
  return row as CityRow
}

/**
 * Applies a patch when the city is still at `version` ('*': any). Returns undefined when the version moved
 * on, which the route answers with 412.
 */
export async function updateCity (db: Executor, cityId: string, version: number | '*', patch: CityPatch): Promise<CityRow | undefined> {
  const [row] = await db.update(cities).set({
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.state !== undefined ? { state: patch.state } : {}),
    ...(patch.population !== undefined ? { population: patch.population } : {}),
    ...(patch.timezone !== undefined ? { timezone: patch.timezone } : {}),
    ...(patch.default_language !== undefined ? { defaultLanguage: patch.default_language } : {}),
    ...(patch.languages !== undefined ? { languages: patch.languages } : {}),
    ...(patch.small_cell_threshold !== undefined ? { smallCellThreshold: patch.small_cell_threshold } : {}),
    version: sql`${cities.version} + 1`,
    updatedAt: sql`now()`
  }).where(version === '*' ? eq(cities.id, cityId) : and(eq(cities.id, cityId), eq(cities.version, version))).returning()
  return row
}
