import { existsSync, renameSync, writeFileSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { openDatabase, openPglite } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'
import { pgliteTemplatePath, pgTemplateName, testDatabaseUrl, withDatabase } from './template.js'

/** Runs once before the test files: builds the migrated template they clone. */
async function main (): Promise<void> {
  const url = testDatabaseUrl()
  if (url === undefined) {
    const path = pgliteTemplatePath()
    if (existsSync(path)) return
    const client = new PGlite()
    await migrate(openPglite(client))
    const dump = await client.dumpDataDir('none')
    await client.close()
    writeFileSync(`${path}.${process.pid}`, Buffer.from(await dump.arrayBuffer()))
    renameSync(`${path}.${process.pid}`, path)
    return
  }
  const name = pgTemplateName()
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
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
    await admin.end()
  }
}

main().catch((err: unknown) => {
  console.error('test setup failed:', err)
  process.exit(1)
})
