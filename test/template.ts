import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { openDatabase, openPglite } from '../src/db/client.js'
import { migrate, migrationsFolder } from '../src/db/migrate.js'

/**
 * Tests run against a migrated template, cloned once per test file. The template's name carries a hash
 * of the migrations, so a changed migration builds a new template instead of reusing a stale one.
 */
export function migrationsHash (): string {
  const hash = createHash('sha256')
  for (const file of readdirSync(migrationsFolder, { recursive: true }).map(String).sort()) {
    if (file.endsWith('.sql') || file.endsWith('.json')) hash.update(file).update(readFileSync(join(migrationsFolder, file)))
  }
  return hash.digest('hex').slice(0, 12)
}

export const pgTemplateName = (): string => `cohesion_template_${migrationsHash()}`
export const pgliteTemplatePath = (): string => join(tmpdir(), `cohesion-pglite-template-${migrationsHash()}.tar`)

/** The admin connection for creating test databases: TEST_DATABASE_URL, or none (embedded). */
export const testDatabaseUrl = (): string | undefined => process.env.TEST_DATABASE_URL || undefined

export function withDatabase (url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

let ready: Promise<void> | undefined

/** Builds the migrated template once; test files running in parallel wait for the first to finish it. */
export async function ensureTemplate (): Promise<void> {
  ready ??= buildTemplate()
  await ready
}

async function buildTemplate (): Promise<void> {
  const url = testDatabaseUrl()
  if (url === undefined) {
    const path = pgliteTemplatePath()
    if (existsSync(path)) return
    const client = new PGlite()
    await migrate(openPglite(client))
    const dump = await client.dumpDataDir('none')
    await client.close()
    // Written aside and renamed: a parallel file never reads half a template.
    writeFileSync(`${path}.${process.pid}`, Buffer.from(await dump.arrayBuffer()))
    renameSync(`${path}.${process.pid}`, path)
    return
  }
  const name = pgTemplateName()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name])
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (rowCount === 1) return
    // A run interrupted while building leaves a half-made template behind: start it again.
    await admin.query(`DROP DATABASE IF EXISTS "${name}_building" WITH (FORCE)`)
    await admin.query(`CREATE DATABASE "${name}_building"`)
    const templateUrl = withDatabase(url, `${name}_building`)
    const database = await openDatabase({ DATABASE_URL: templateUrl, DATA_DIR: '', DATABASE_POOL_SIZE: 1, DATABASE_CONNECT_TIMEOUT_MS: 5000, DATABASE_STATEMENT_TIMEOUT_MS: 60000 })
    await migrate(database, templateUrl)
    await database.close()
    await admin.query(`ALTER DATABASE "${name}_building" RENAME TO "${name}"`)
  } finally {
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => {})
    await admin.end()
  }
}
