import { sql } from 'drizzle-orm'
import { query, type Db } from './db/client.js'
import { recordAudit } from './lib/audit.js'
import { createApiKey } from './routes/v1/api-keys/repo.js'
import { createCity } from './routes/v1/city/repo.js'

export const DEMO_CITY = { slug: 'demo', name: 'Demo City', state: null, population: null }

/**
 * On an empty database, creates the city `demo` and one admin key, so that a first `npm start` can be
 * tried at once. Returns the key (to be printed once) or null when any city already exists.
 */
export async function bootstrapDemoCity (db: Db): Promise<{ citySlug: string, key: string } | null> {
  return await db.transaction(async (tx) => {
    // Two instances starting together must not both create the demo city.
    await tx.execute(sql`SELECT pg_advisory_xact_lock(4242002)`)
    const [{ any } = { any: true }] = await query<{ any: boolean }>(tx, sql`SELECT EXISTS (SELECT 1 FROM cities) AS any`)
    if (any) return null
    const city = await createCity(tx, DEMO_CITY)
    const { row, key } = await createApiKey(tx, city.id, { name: 'Bootstrap admin key', scopes: ['admin'] })
    const actor = { type: 'system' as const, keyId: null, requestId: null }
    await recordAudit(tx, city.id, actor, { action: 'city.created', objectType: 'city', objectId: city.id, details: { slug: city.slug } })
    await recordAudit(tx, city.id, actor, { action: 'api_key.created', objectType: 'api_key', objectId: row.id, details: { scopes: ['admin'], sources: null } })
    return { citySlug: city.slug, key }
  })
}
