import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import pg from 'pg'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { openDatabase, openPglite, type Database } from '../src/db/client.js'
import { ensureTemplate, pgliteTemplatePath, pgTemplateName, testDatabaseUrl, withDatabase } from './template.js'

export interface TapLike { teardown: (fn: () => unknown) => void }

/** A fresh database for one test file: a clone of the migrated template. */
export async function freshDatabase (t: TapLike): Promise<{ database: Database, url?: string }> {
  const url = testDatabaseUrl()
  if (url === undefined) {
    await ensureTemplate()
    const client = await PGlite.create({ loadDataDir: new Blob([readFileSync(pgliteTemplatePath())]) })
    return { database: openPglite(client) }
  }
  await ensureTemplate()
  const name = `cohesion_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${pgTemplateName()}"`)
  await admin.end()
  const dbUrl = withDatabase(url, name)
  const database = await openDatabase({ DATABASE_URL: dbUrl, DATA_DIR: '', DATABASE_POOL_SIZE: 5, DATABASE_CONNECT_TIMEOUT_MS: 5000, DATABASE_STATEMENT_TIMEOUT_MS: 30000 })
  t.teardown(async () => {
    const dropper = new pg.Client({ connectionString: url })
    await dropper.connect()
    await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await dropper.end()
  })
  return { database, url: dbUrl }
}

export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '100000',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env
  })
}

export interface TestApp {
  app: FastifyInstance
  database: Database
  config: Config
  /** The connection string of this file's own database, on PostgreSQL. */
  url?: string
}

/**
 * The production app on this file's own database. Tests share the app within a file but each makes its
 * own city and keys (see factories.ts), so no test depends on another's data.
 */
export async function build (t: TapLike, env: Record<string, string> = {}): Promise<TestApp> {
  const { database, url } = await freshDatabase(t)
  const config = testConfig(env)
  const app = await buildApp({ config, database }, false)
  t.teardown(async () => { await app.close() })
  await app.ready()
  return { app, database, config, ...(url !== undefined ? { url } : {}) }
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

interface Answer { statusCode: number, headers: Record<string, unknown>, json: () => any }

/** An answer is the problem it should be: status, problem+json, code, and the status repeated in the body. */
export function expectProblem (t: Test, res: Answer, status: number, code: string, what: string): void {
  t.equal(res.statusCode, status, `${what}: status ${status}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.equal(res.json().code, code, `${what}: code ${code}`)
  t.equal(res.json().status, status, `${what}: status in the body`)
}

/** A problem without what differs by request (instance, request_id), to compare two refusals. */
export function comparableProblem (res: Answer): Record<string, unknown> {
  const { instance: _instance, request_id: _requestId, ...rest } = res.json()
  return { status: res.statusCode, ...rest }
}

/**
 * Counts the statements the app sends to its database whose text matches, by watching the driver's own
 * `query` method (pg's Pool or PGlite); the statements still run against the real database.
 */
export function countStatements (database: Database, match: RegExp): { count: () => number } {
  const client = (database.db as unknown as { $client: { query: (...args: unknown[]) => unknown } }).$client
  const original = client.query.bind(client)
  let count = 0
  client.query = (...args: unknown[]) => {
    const [statement] = args
    const text = typeof statement === 'string' ? statement : (statement as { text?: string } | undefined)?.text ?? ''
    if (match.test(text)) count++
    return original(...args)
  }
  return { count: () => count }
}
