// Benchmark data: a fleet of cities, each with a few API keys, written through the app's own repositories
// so that rows look exactly like the ones the API creates. Later scenarios (incidents, ...) add their own
// generators here and return what they need in the `fixtures` object.
import { createApiKey } from '../dist/routes/v1/api-keys/repo.js'
import { createCity } from '../dist/routes/v1/city/repo.js'

const STATES = ['CA', 'TX', 'NY', 'FL', 'IL', 'PA', 'OH', 'GA', 'NC', 'MI', 'WA', 'MA', 'MN', 'OR', 'CO']
const TIMEZONES = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles']

/** The keys every city gets: an admin, a read-only analyst, and a partner limited to its own source. */
const KEY_TEMPLATES = [
  { name: 'Admin key', scopes: ['admin'] },
  { name: 'Analyst key', scopes: ['incidents:read', 'kpis:read', 'exports:read'] },
  { name: 'Community partner key', scopes: ['incidents:write'], sources: ['partner'] },
  { name: 'Survey portal key', scopes: ['survey-responses:write'] }
]

/** A small deterministic PRNG (mulberry32), so two runs generate the same shape of data. */
function prng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Creates `cities` cities with `keysPerCity` keys each (at most KEY_TEMPLATES.length) in one transaction.
 * Returns the fixtures the scenarios use: one city (in the middle of the id range, so its index entries are
 * nowhere special) with the plaintext of its admin key. Every other key's secret is thrown away.
 */
export async function seed (db, { cities = 200, keysPerCity = 3, seed: seedValue = 42 } = {}) {
  const random = prng(seedValue)
  const chosen = Math.floor(cities / 2)
  let fixture = null
  let keyCount = 0
  await db.transaction(async (tx) => {
    for (let i = 0; i < cities; i++) {
      const city = await createCity(tx, {
        slug: `bench-city-${String(i).padStart(4, '0')}`,
        name: `Bench City ${i}`,
        state: STATES[Math.floor(random() * STATES.length)],
        population: 20_000 + Math.floor(random() * 2_000_000),
        timezone: TIMEZONES[Math.floor(random() * TIMEZONES.length)]
      })
      for (const template of KEY_TEMPLATES.slice(0, Math.max(1, keysPerCity))) {
        const { key } = await createApiKey(tx, city.id, template)
        keyCount++
        if (i === chosen && template.scopes.includes('admin')) fixture = { cityId: city.id, citySlug: city.slug, adminKey: key }
      }
    }
  })
  if (fixture === null) throw new Error('seed: no admin key kept')
  return { ...fixture, cities, keys: keyCount }
}
