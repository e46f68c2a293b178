import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { sql, type AnyColumn, type SQL } from 'drizzle-orm'
import pg from 'pg'
import type { Logger } from 'pino'
import * as schema from './schema/index.js'

/** The one Drizzle type the code sees, whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>
/** A transaction handle, accepted wherever a Db is. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
export type Executor = Db | Tx

/** A statement Drizzle built once, to run by name: `text` with $1… placeholders. */
export interface NamedStatement { name: string, text: string }

export interface Database {
  db: Db
  driver: 'pg' | 'pglite'
  /**
   * Runs a named statement on the driver itself (on PostgreSQL, prepared once per connection) and answers its
   * rows as the driver parses them: for the reads every request makes, where Drizzle's own mapping of each
   * row is a cost of its own. Not inside a transaction.
   */
  prepared: <Row>(statement: NamedStatement, values: unknown[]) => Promise<Row[]>
  close: () => Promise<void>
}

/**
 * A timestamptz column as the API writes it (what Date.prototype.toISOString gives: UTC, milliseconds), made
 * by PostgreSQL, for reads whose rows are answered as the driver gives them.
 */
export const isoTimestamp = (column: AnyColumn, name: string): SQL.Aliased<string> =>
  sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.as(name)

/** A Drizzle query (built with any builder, placeholders for its values) as a named statement. */
export function namedStatement (name: string, query: { toSQL: () => { sql: string } }): NamedStatement {
  return { name, text: query.toSQL().sql }
}

export interface DatabaseOptions {
  DATABASE_URL?: string | undefined
  DATA_DIR: string
  DATABASE_POOL_SIZE: number
  DATABASE_CONNECT_TIMEOUT_MS: number
  DATABASE_STATEMENT_TIMEOUT_MS: number
}

/** Both drivers throw when closed twice; the app, a test or a signal handler may each close it. */
function closeOnce (close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined
  return async () => { closing ??= close(); await closing }
}

/** How much longer than statement_timeout the client waits for an answer before giving up on the connection. */
export const QUERY_TIMEOUT_MARGIN_MS = 5000

const ARRAY_SPECIAL = /["\\]/g
const HAS_ARRAY_SPECIAL = /["\\]/

/**
 * A PostgreSQL text[] literal of the values (null as NULL), to send as one text parameter cast to text[].
 * Set-based writes send a column of a thousand rows this way: one pass over each value, where the driver's own
 * array encoding escapes every element in two. `plain`: the caller made the values in an alphabet without
 * quotes or backslashes (hex, ISO instants), so they are not even searched for one.
 */
export function textArrayLiteral (values: ReadonlyArray<string | null>, plain = false): string {
  let literal = '{'
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    // Most values need no escaping: testing first spares a replace (and its new string) for each of them.
    literal += (i === 0 ? '' : ',') + (value === null || value === undefined ? 'NULL' : '"' + (!plain && HAS_ARRAY_SPECIAL.test(value) ? value.replace(ARRAY_SPECIAL, '\\$&') : value) + '"')
  }
  return literal + '}'
}

/** Runs raw SQL and returns its rows; both drivers answer with `{ rows }`. */
export async function query<T> (db: Executor, statement: SQL): Promise<T[]> {
  const result = await db.execute(statement) as unknown as { rows: T[] }
  return result.rows
}

export async function openDatabase (options: DatabaseOptions, log?: Logger): Promise<Database> {
  if (options.DATABASE_URL !== undefined) {
    const pool = new pg.Pool({
      connectionString: options.DATABASE_URL,
      max: options.DATABASE_POOL_SIZE,
      connectionTimeoutMillis: options.DATABASE_CONNECT_TIMEOUT_MS,
      statement_timeout: options.DATABASE_STATEMENT_TIMEOUT_MS,
      // A server that vanished without closing the socket is noticed by the client too, not only by the server.
      query_timeout: options.DATABASE_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS,
      keepAlive: true,
      idleTimeoutMillis: 30000,
      application_name: 'cohesion'
    })
    const connectionLost = (err: Error): void => { log?.warn({ err }, 'database connection lost') }
    // pg-pool listens for errors on idle clients only. A connection lost while a request holds its client (a
    // Postgres restart between two statements of a transaction) emits an error on that client, which would end
    // the process without a listener of its own. The request itself fails with the error of its next query, and
    // the pool drops the client when it is released.
    pool.on('connect', (client) => { client.on('error', connectionLost) })
    pool.on('error', connectionLost)
    return {
      db: drizzlePg({ client: pool, schema }) as unknown as Db,
      driver: 'pg',
      prepared: async <Row>({ name, text }: NamedStatement, values: unknown[]) => (await pool.query({ name, text, values })).rows as Row[],
      close: closeOnce(async () => { await pool.end() })
    }
  }
  mkdirSync(options.DATA_DIR, { recursive: true })
  const release = lockDataDir(options.DATA_DIR)
  try {
    const database = openPglite(await PGlite.create(`${options.DATA_DIR}/pgdata`))
    return { ...database, close: closeOnce(async () => { try { await database.close() } finally { release() } }) }
  } catch (err) {
    release()
    throw err
  }
}

/** Another process has the embedded database open. */
export class DataDirInUseError extends Error {}

/** Whether a process of this machine is running (a signal 0 reaches it, or it exists but is not ours to signal). */
function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The embedded database is one process's: a second one opening the same files (a command run beside the
 * server) would write them without the first knowing, and could corrupt them. DATA_DIR/cohesion.lock names the
 * process that has it; a lock whose process has ended (killed, crashed) is taken over. Answers the release.
 */
function lockDataDir (dir: string): () => void {
  const path = join(dir, 'cohesion.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
      const holder = Number.parseInt(readFileSync(path, 'utf8'), 10)
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && running(holder)) {
        throw new DataDirInUseError(`the embedded database in ${dir} is open in process ${holder} (a running server?). ` +
          'Stop it first, or do this through the API while it runs (API keys: POST /v1/api-keys with an admin key).')
      }
      unlinkSync(path)
    }
  }
  return () => {
    try {
      if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) unlinkSync(path)
    } catch { /* already gone */ }
  }
}

/** Wraps an open PGlite (a data directory, or an in-memory copy of a migrated template in tests). */
export function openPglite (client: PGlite): Database {
  return {
    db: drizzlePglite({ client, schema }) as unknown as Db,
    driver: 'pglite',
    prepared: async <Row>({ text }: NamedStatement, values: unknown[]) => (await client.query<Row>(text, values)).rows,
    close: closeOnce(async () => { await client.close() })
  }
}
