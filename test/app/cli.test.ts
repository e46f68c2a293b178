import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { openDatabase } from '../../src/db/client.js'

// The `cohesion` command as an operator runs it, in a child process on its own embedded database.
// TEST_DATABASE_URL is deliberately ignored: each run boots PGlite in a fresh DATA_DIR, so the runs are few.
// Every run transpiles the CLI and boots PGlite, which takes seconds (tens on a busy machine): allow more
// than the default per-file timeout.
t.setTimeout(360_000)

const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'cohesion-cli-test-'))
t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }) })

const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' }
for (const name of ['DATABASE_URL', 'TEST_DATABASE_URL', 'ENCRYPTION_KEY', 'BOOTSTRAP']) delete env[name]

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs src/cli.ts with the TypeScript loader tap itself runs under (it is in execArgv). */
async function cohesion (...args: string[]): Promise<Run> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

const USAGE = /Usage: cohesion <command>/

t.test('migrate applies the migrations to the embedded database in DATA_DIR and exits 0', async (t) => {
  const run = await cohesion('migrate')
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /migrations applied/)
})

let cityId = ''
t.test('cities create prints the new city as JSON', async (t) => {
  const run = await cohesion('cities', 'create', '--slug', 'stamford', '--name', 'Stamford', '--state', 'CT', '--population', '135000')
  t.equal(run.code, 0, run.stderr)
  const city = JSON.parse(run.stdout)
  t.match(city, { slug: 'stamford', name: 'Stamford', state: 'CT', population: 135000, timezone: 'America/New_York' })
  t.match(city.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
  cityId = city.id
})

t.test('cities create with a slug already taken exits non-zero with a clear message and prints nothing on stdout', async (t) => {
  const run = await cohesion('cities', 'create', '--slug', 'stamford', '--name', 'Stamford again')
  t.not(run.code, 0)
  t.equal(run.code, 2)
  t.match(run.stderr, /a city with slug "stamford" already exists/)
  t.equal(run.stdout, '')
})

let keyId = ''
let secret = ''
t.test('keys create prints exactly id, key, scopes and sources as JSON', async (t) => {
  const run = await cohesion('keys', 'create', '--city', 'stamford', '--name', 'portal', '--scopes', 'incidents:write,incidents:read', '--sources', 'resident-portal')
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  t.same(Object.keys(out).sort(), ['id', 'key', 'scopes', 'sources'])
  t.match(out.key, /^coh_[A-Za-z0-9_-]{32,}$/)
  t.same(out.scopes, ['incidents:write', 'incidents:read'])
  t.same(out.sources, ['resident-portal'])
  keyId = out.id
  secret = out.key
})

t.test('keys create with an unknown scope exits 2 naming it, before touching the database', async (t) => {
  const run = await cohesion('keys', 'create', '--city', 'stamford', '--name', 'typo', '--scopes', 'incidents:read,incidents:wrte')
  t.equal(run.code, 2)
  t.match(run.stderr, /unknown scope incidents:wrte/)
  t.notMatch(run.stderr, /unknown scope incidents:read[,;]/, 'only the unknown scope is named as unknown')
  t.match(run.stderr, USAGE)
  t.equal(run.stdout, '')
})

t.test('keys create refuses a resident portal\'s shared key that could also write, read or run the case', async (t) => {
  const run = await cohesion('keys', 'create', '--city', 'stamford', '--name', 'portal', '--scopes', 'incidents:report,incidents:write', '--sources', 'resident-portal')
  t.equal(run.code, 2)
  t.match(run.stderr, /holds only submit scopes and surveys:read; not incidents:write/)
  t.equal(run.stdout, '')
})

t.test('keys revoke ID revokes the key and prints its revoked_at', async (t) => {
  const run = await cohesion('keys', 'revoke', keyId)
  t.equal(run.code, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  t.equal(out.id, keyId)
  t.match(out.revoked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.ok(Math.abs(Date.parse(out.revoked_at) - Date.now()) < 120_000, 'revoked now')
})

t.test('an unknown command exits 2 with the usage', async (t) => {
  const run = await cohesion('frobnicate')
  t.equal(run.code, 2)
  t.match(run.stderr, /unknown command "frobnicate"/)
  t.match(run.stderr, USAGE)
  t.equal(run.stdout, '')
})

t.test('what the commands wrote is in the database: a hashed, revoked key and an audit trail by the command line', async (t) => {
  const client = await PGlite.create(join(dataDir, 'pgdata'))
  t.teardown(async () => { await client.close() })
  const cities = await client.query<{ id: string }>('SELECT id FROM cities WHERE slug = $1', ['stamford'])
  t.same(cities.rows.map((r) => r.id), [cityId], 'the refused duplicate created no second city')
  const keys = await client.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [keyId])
  t.equal(keys.rows.length, 1)
  const row = keys.rows[0] as Record<string, unknown>
  t.equal(row.city_id, cityId)
  t.equal(row.secret_hash, createHash('sha256').update(secret).digest('hex'))
  t.notOk(JSON.stringify(row).includes(secret.slice(4)), 'the secret itself is stored nowhere')
  t.ok(row.revoked_at instanceof Date, 'revoked_at is set')
  const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys')
  t.equal(count.rows[0]?.n, 1, 'the refused unknown-scope key was not created')
  const events = await client.query<{ action: string, actor_type: string, actor_key_id: string | null }>(
    'SELECT action, actor_type, actor_key_id FROM audit_events WHERE city_id = $1 ORDER BY id', [cityId])
  t.same(events.rows, [
    { action: 'city.created', actor_type: 'cli', actor_key_id: null },
    { action: 'api_key.created', actor_type: 'cli', actor_key_id: null },
    { action: 'api_key.revoked', actor_type: 'cli', actor_key_id: null }
  ])
})

t.test('a command run while another process has the embedded database open is refused and changes nothing; a lock left by a process that ended is taken over', async (t) => {
  const lock = join(dataDir, 'cohesion.lock')
  // This test's process opens it, as a running server would.
  const held = await openDatabase({ DATA_DIR: dataDir, DATABASE_POOL_SIZE: 1, DATABASE_CONNECT_TIMEOUT_MS: 5000, DATABASE_STATEMENT_TIMEOUT_MS: 30000 })
  let closed = false
  t.teardown(async () => { if (!closed) await held.close() })
  const refused = await cohesion('keys', 'create', '--city', 'stamford', '--name', 'beside', '--scopes', 'incidents:read')
  t.equal(refused.code, 1, refused.stderr)
  t.match(refused.stderr, `is open in process ${process.pid}`)
  t.match(refused.stderr, /POST \/v1\/api-keys/, 'the message says how to do it while the server runs')
  t.equal(refused.stdout, '')
  const keys = await held.db.execute(sql`SELECT count(*)::int AS n FROM api_keys WHERE name = 'beside'`) as unknown as { rows: Array<{ n: number }> }
  t.equal(keys.rows[0]?.n, 0, 'no key was created')
  await held.close()
  closed = true
  t.notOk(existsSync(lock), 'closing releases the lock')

  // A server killed without closing leaves its lock behind; the process it names no longer runs.
  const ended = spawn(process.execPath, ['-e', ''])
  const pid = ended.pid as number
  await new Promise((resolve) => ended.on('close', resolve))
  writeFileSync(lock, `${pid}\n`)
  const run = await cohesion('keys', 'create', '--city', 'stamford', '--name', 'after', '--scopes', 'incidents:read')
  t.equal(run.code, 0, run.stderr)
  t.match(JSON.parse(run.stdout), { scopes: ['incidents:read'] })
  t.notOk(existsSync(lock), 'the command released the lock it took over')
})
