#!/usr/bin/env node
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { openDatabase, openPglite, type Database } from './db/client.js'
import { migrate } from './db/migrate.js'
import { recordAudit, type AuditActor } from './lib/audit.js'
import { SCOPE_NAMES, sharedKeyProblem } from './lib/scopes.js'
import { createApiKey, revokeApiKeyAnywhere } from './routes/v1/api-keys/repo.js'
import { createCity, findCityBySlug, toCity } from './routes/v1/city/repo.js'
import { isTimezone } from './routes/v1/city/schema.js'
import { PGlite } from '@electric-sql/pglite'

const USAGE = `Usage: cohesion <command>

  migrate                                   apply pending database migrations
  cities create --slug S --name N [--state XX] [--population N] [--timezone Area/City]
                                            create a city; prints it as JSON
  keys create --city S --name N --scopes a,b [--sources s1,s2] [--expires-at ISO]
                                            create an API key; prints {"id","key","scopes"} as JSON
  keys revoke ID                            revoke an API key
  openapi [--out DIR]                       write openapi.json and openapi.yaml (default ./openapi)

The database is DATABASE_URL, or the embedded one in DATA_DIR (./data).`

class UsageError extends Error {}

const CLI_ACTOR: AuditActor = { type: 'cli', keyId: null, requestId: null }
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/

function required (values: Record<string, unknown>, name: string): string {
  const value = values[name]
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${name} is required`)
  return value.trim()
}

function list (value: unknown): string[] {
  return typeof value === 'string' ? [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))] : []
}

async function withDatabase<T> (work: (database: Database) => Promise<T>): Promise<T> {
  const config = loadConfig()
  const database = await openDatabase(config)
  try {
    await migrate(database, config.DATABASE_URL)
    return await work(database)
  } finally {
    await database.close()
  }
}

const print = (value: unknown): void => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`) }

async function citiesCreate (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { slug: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' }, population: { type: 'string' }, timezone: { type: 'string' } } })
  const slug = required(values, 'slug')
  if (!SLUG.test(slug) || slug.length > 64) throw new UsageError('--slug must be lowercase letters, digits and dashes (at most 64)')
  const name = required(values, 'name')
  if (name.length > 200) throw new UsageError('--name is longer than 200 characters')
  const state = values.state?.toUpperCase()
  if (state !== undefined && !/^[A-Z]{2}$/.test(state)) throw new UsageError('--state must be two letters')
  const population = values.population !== undefined ? Number(values.population) : undefined
  if (population !== undefined && (!Number.isInteger(population) || population < 0)) throw new UsageError('--population must be a whole number')
  if (values.timezone !== undefined && !isTimezone(values.timezone)) throw new UsageError('--timezone must be an IANA timezone such as America/Chicago')
  await withDatabase(async ({ db }) => {
    if (await findCityBySlug(db, slug) !== undefined) throw new UsageError(`a city with slug "${slug}" already exists`)
    const city = await db.transaction(async (tx) => {
      const row = await createCity(tx, { slug, name, state: state ?? null, population: population ?? null, ...(values.timezone ? { timezone: values.timezone } : {}) })
      await recordAudit(tx, row.id, CLI_ACTOR, { action: 'city.created', objectType: 'city', objectId: row.id, details: { slug } })
      return row
    })
    print(toCity(city))
  })
}

async function keysCreate (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { city: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, sources: { type: 'string' }, 'expires-at': { type: 'string' } } })
  const slug = required(values, 'city')
  const name = required(values, 'name')
  const scopes = list(required(values, 'scopes'))
  const unknown = scopes.filter((s) => !(SCOPE_NAMES as string[]).includes(s))
  if (unknown.length > 0) throw new UsageError(`unknown scope ${unknown.join(', ')}; known: ${SCOPE_NAMES.join(', ')}`)
  const shared = sharedKeyProblem(scopes)
  if (shared !== null) throw new UsageError(`--scopes: ${shared}`)
  const sources = list(values.sources)
  const badSource = sources.find((s) => !SLUG.test(s) || s.length > 64)
  if (badSource !== undefined) throw new UsageError(`--sources: "${badSource}" is not a source slug`)
  const expiresAt = values['expires-at'] !== undefined ? new Date(values['expires-at']) : null
  if (expiresAt !== null && (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now())) throw new UsageError('--expires-at must be a future RFC 3339 time')
  await withDatabase(async ({ db }) => {
    const city = await findCityBySlug(db, slug)
    if (city === undefined) throw new UsageError(`no city with slug "${slug}"`)
    const { row, key } = await db.transaction(async (tx) => {
      const created = await createApiKey(tx, city.id, { name, scopes, sources: sources.length > 0 ? sources : null, expiresAt })
      await recordAudit(tx, city.id, CLI_ACTOR, { action: 'api_key.created', objectType: 'api_key', objectId: created.row.id, details: { scopes, sources: created.row.sources } })
      return created
    })
    print({ id: row.id, key, scopes: row.scopes, ...(row.sources ? { sources: row.sources } : {}) })
  })
}

async function keysRevoke (args: string[]): Promise<void> {
  const [id] = args
  if (id === undefined || !/^[0-9a-f-]{36}$/i.test(id)) throw new UsageError('keys revoke needs the key id (a UUID)')
  await withDatabase(async ({ db }) => {
    const row = await db.transaction(async (tx) => {
      const revoked = await revokeApiKeyAnywhere(tx, id.toLowerCase())
      if (revoked !== undefined) await recordAudit(tx, revoked.cityId, CLI_ACTOR, { action: 'api_key.revoked', objectType: 'api_key', objectId: revoked.id })
      return revoked
    })
    if (row === undefined) throw new UsageError(`no API key ${id}`)
    print({ id: row.id, revoked_at: row.revokedAt?.toISOString() })
  })
}

/** Builds the app on a throwaway in-memory database: the spec depends on the routes, not on any data. */
async function exportOpenapi (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } } })
  const out = resolve(values.out ?? 'openapi')
  const config = loadConfig({ ...process.env, DATABASE_URL: '', ENCRYPTION_KEY: randomBytes(32).toString('base64') })
  const app = await buildApp({ config, database: openPglite(new PGlite()) }, false)
  await app.ready()
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'openapi.json'), `${JSON.stringify(app.swagger(), null, 2)}\n`)
  writeFileSync(join(out, 'openapi.yaml'), app.swagger({ yaml: true }))
  await app.close()
  process.stdout.write(`wrote ${join(out, 'openapi.json')} and openapi.yaml\n`)
}

async function main (argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv
  if (command === 'migrate') {
    await withDatabase(async () => { process.stdout.write('migrations applied\n') })
  } else if (command === 'cities' && sub === 'create') {
    await citiesCreate(rest)
  } else if (command === 'keys' && sub === 'create') {
    await keysCreate(rest)
  } else if (command === 'keys' && sub === 'revoke') {
    await keysRevoke(rest)
  } else if (command === 'openapi') {
    await exportOpenapi(sub !== undefined ? [sub, ...rest] : rest)
  } else {
    throw new UsageError(command === undefined ? 'no command given' : `unknown command "${argv.join(' ')}"`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError) {
    process.stderr.write(`cohesion: ${err.message}\n${err instanceof UsageError ? `\n${USAGE}\n` : ''}`)
    process.exit(2)
  }
  process.stderr.write(`cohesion: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
