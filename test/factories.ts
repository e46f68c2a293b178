import { randomBytes } from 'node:crypto'
import type { Db } from '../src/db/client.js'
import { programs, stakeholders } from '../src/db/schema/index.js'
import { newId } from '../src/lib/ids.js'
import type { Scope } from '../src/lib/scopes.js'
import { createApiKey } from '../src/routes/v1/api-keys/repo.js'
import { createCity } from '../src/routes/v1/city/repo.js'

export interface TestCity { id: string, slug: string }
export interface TestKey { id: string, key: string, cityId: string }

export async function makeCity (db: Db, overrides: { slug?: string, name?: string } = {}): Promise<TestCity> {
  const slug = overrides.slug ?? `city-${randomBytes(5).toString('hex')}`
  const row = await createCity(db, { slug, name: overrides.name ?? `City ${slug}`, state: 'CT', population: 135000 })
  return { id: row.id, slug: row.slug }
}

export async function makeKey (db: Db, cityId: string, scopes: Scope[] = ['admin'], options: { sources?: string[], expiresAt?: Date } = {}): Promise<TestKey> {
  const { row, key } = await createApiKey(db, cityId, { name: 'test key', scopes, sources: options.sources ?? null, expiresAt: options.expiresAt ?? null })
  return { id: row.id, key, cityId }
}

/** A fresh city with an admin key: what most tests start from. */
export async function makeCityWithKey (db: Db, scopes: Scope[] = ['admin']): Promise<TestCity & { key: string, keyId: string }> {
  const city = await makeCity(db)
  const key = await makeKey(db, city.id, scopes)
  return { ...city, key: key.key, keyId: key.id }
}

/** A program of the directory, written straight to its table (for tests of what refers to programs). */
export async function makeProgram (db: Db, cityId: string, name = 'Victim support line'): Promise<{ id: string }> {
  const id = newId()
  await db.insert(programs).values({ cityId, id, name, contentHash: '0'.repeat(64), serviceTypes: ['victim_support'] })
  return { id }
}

/** A stakeholder, written straight to its table (for tests of what refers to stakeholders). */
export async function makeStakeholder (db: Db, cityId: string, overrides: Partial<typeof stakeholders.$inferInsert> = {}): Promise<{ id: string }> {
  const id = newId()
  await db.insert(stakeholders).values({ cityId, id, kind: 'organization', name: `Stakeholder ${id.slice(-6)}`, category: 'community_organization', contentHash: '0'.repeat(64), ...overrides })
  return { id }
}
