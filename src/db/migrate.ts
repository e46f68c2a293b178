import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import type { PgliteDatabase } from 'drizzle-orm/pglite'
import pg from 'pg'
import type { Database } from './client.js'

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url))

/** Arbitrary constant: instances starting together take turns applying migrations. */
const MIGRATION_LOCK = 4_242_001

/**
 * Applies pending migrations. On PostgreSQL a session advisory lock on a dedicated connection serialises
 * instances that start at the same moment.
 */
export async function migrate (database: Database, databaseUrl?: string): Promise<void> {
  if (database.driver === 'pglite') {
    await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder })
    return
  }
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'cohesion-migrate' })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    await migratePg(drizzlePg({ client }), { migrationsFolder })
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
    await client.end()
  }
  await database.db.execute(sql`SELECT 1`)
}
