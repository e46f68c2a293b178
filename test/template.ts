import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationsFolder } from '../src/db/migrate.js'

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
