import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { startServer } from './server-process.js'

const KEY = randomBytes(32).toString('base64')
const DATABASE_URL = 'postgres://cohesion@db.internal:5432/cohesion'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'cohesion-config-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Asserts loadConfig refuses the environment with a ConfigError whose message names the variable. */
function refuses (t: Test, env: Record<string, string>, variable: string, label = `${variable} is refused`): void {
  let error: unknown
  try {
    loadConfig(env)
  } catch (err) {
    error = err
  }
  t.ok(error instanceof ConfigError, `${label}: a ConfigError is thrown`)
  t.match((error as Error | undefined)?.message ?? '', new RegExp(`\\b${variable}\\b`), `${label}: the message names ${variable}`)
}

t.test('defaults: PORT 3000, HOST 127.0.0.1, DATA_DIR ./data resolved to an absolute path, safe limits', async (t) => {
  const config = loadConfig({ ENCRYPTION_KEY: KEY })
  t.equal(config.PORT, 3000)
  t.equal(config.HOST, '127.0.0.1', 'listens on loopback unless told otherwise')
  t.equal(config.DATA_DIR, resolve('./data'))
  t.equal(config.DATA_DIR, join(process.cwd(), 'data'))
  t.equal(config.LOG_LEVEL, 'info')
  t.equal(config.DATABASE_URL, undefined)
  t.same(config.corsOrigins, [], 'no browser origin is allowed by default')
  t.equal(config.TRUST_PROXY, false)
  t.equal(config.BODY_LIMIT_BYTES, 1048576)
  t.equal(config.RATE_LIMIT_MAX, 600)
  t.equal(config.SHUTDOWN_GRACE_MS, 10000)
  t.ok(Buffer.isBuffer(config.ENCRYPTION_KEY) && config.ENCRYPTION_KEY.length === 32, 'the key is 32 bytes')
  t.same(config.ENCRYPTION_KEY, Buffer.from(KEY, 'base64'))
})

t.test('values are read from text and converted; empty values count as unset', async (t) => {
  const dir = tempDir(t)
  const config = loadConfig({ ENCRYPTION_KEY: KEY, PORT: '8080', HOST: '0.0.0.0', DATA_DIR: dir, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '', TRUST_PROXY: 'true' })
  t.equal(config.PORT, 8080)
  t.equal(config.HOST, '0.0.0.0')
  t.equal(config.DATA_DIR, dir)
  t.equal(config.LOG_LEVEL, 'warn')
  t.equal(config.RATE_LIMIT_MAX, 600, 'an empty value takes the default')
  t.equal(config.TRUST_PROXY, true)
})

t.test('a bad PORT throws a ConfigError naming PORT', async (t) => {
  for (const port of ['abc', '70000', '-1', '65536', '3000abc', '80.5']) refuses(t, { ENCRYPTION_KEY: KEY, PORT: port }, 'PORT', `PORT=${port}`)
})

t.test('a bad LOG_LEVEL throws a ConfigError naming LOG_LEVEL', async (t) => {
  for (const level of ['verbose', 'INFO', 'warning']) refuses(t, { ENCRYPTION_KEY: KEY, LOG_LEVEL: level }, 'LOG_LEVEL', `LOG_LEVEL=${level}`)
})

t.test('several bad values are all named in one message', async (t) => {
  try {
    loadConfig({ ENCRYPTION_KEY: KEY, PORT: 'abc', LOG_LEVEL: 'loud', BODY_LIMIT_BYTES: '10' })
    t.fail('should have thrown')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    for (const name of ['PORT', 'LOG_LEVEL', 'BODY_LIMIT_BYTES']) t.match((err as Error).message, name)
  }
})

t.test('DATABASE_URL without ENCRYPTION_KEY throws a ConfigError naming ENCRYPTION_KEY and writes no key', async (t) => {
  const dir = tempDir(t)
  refuses(t, { DATABASE_URL, DATA_DIR: dir }, 'ENCRYPTION_KEY')
  t.notOk(existsSync(join(dir, 'encryption.key')), 'no key is generated for a real database')
  t.ok(loadConfig({ DATABASE_URL, ENCRYPTION_KEY: KEY }), 'with the key it loads')
})

t.test('a DATABASE_URL that is not postgres:// throws naming DATABASE_URL', async (t) => {
  refuses(t, { DATABASE_URL: 'mysql://root@localhost/cohesion', ENCRYPTION_KEY: KEY }, 'DATABASE_URL')
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://x@y/z', ENCRYPTION_KEY: KEY }).DATABASE_URL, 'postgresql://x@y/z', 'postgresql:// is fine too')
})

t.test('an ENCRYPTION_KEY that is not 32 base64 bytes throws naming ENCRYPTION_KEY', async (t) => {
  const bad = {
    'short text': 'not-a-key',
    '16 bytes': randomBytes(16).toString('base64'),
    '48 bytes': randomBytes(48).toString('base64'),
    '32 bytes as hex': randomBytes(32).toString('hex'),
    'base64url alphabet': '_'.repeat(43) + '='
  }
  for (const [label, key] of Object.entries(bad)) refuses(t, { ENCRYPTION_KEY: key }, 'ENCRYPTION_KEY', label)
})

t.test('without DATABASE_URL a key is generated into DATA_DIR/encryption.key with mode 0600 and reused', async (t) => {
  const dir = join(tempDir(t), 'nested', 'data')
  const first = loadConfig({ DATA_DIR: dir })
  const file = join(dir, 'encryption.key')
  t.ok(existsSync(file), 'the key file is written, its directories created')
  t.equal(statSync(file).mode & 0o777, 0o600, 'only the owner may read it')
  t.equal(first.ENCRYPTION_KEY.length, 32)
  t.same(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), first.ENCRYPTION_KEY, 'the file holds the key in use')
  const second = loadConfig({ DATA_DIR: dir })
  t.same(second.ENCRYPTION_KEY, first.ENCRYPTION_KEY, 'the next start reuses it')
  const other = loadConfig({ DATA_DIR: join(tempDir(t), 'data') })
  t.notSame(other.ENCRYPTION_KEY, first.ENCRYPTION_KEY, 'another data directory gets its own random key')
})

t.test('an explicit ENCRYPTION_KEY wins over the generated file', async (t) => {
  const dir = tempDir(t)
  loadConfig({ DATA_DIR: dir })
  t.same(loadConfig({ DATA_DIR: dir, ENCRYPTION_KEY: KEY }).ENCRYPTION_KEY, Buffer.from(KEY, 'base64'))
})

t.test('a damaged key file throws naming ENCRYPTION_KEY instead of running with a wrong key', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'encryption.key'), 'c2hvcnQ=\n', { mode: 0o600 })
  refuses(t, { DATA_DIR: dir }, 'ENCRYPTION_KEY')
})

t.test('CORS_ORIGINS takes a comma-separated list of origins; one with a path is refused naming CORS_ORIGINS', async (t) => {
  const config = loadConfig({ ENCRYPTION_KEY: KEY, CORS_ORIGINS: 'https://portal.example.gov, http://localhost:5173' })
  t.same(config.corsOrigins, ['https://portal.example.gov', 'http://localhost:5173'])
  for (const origins of ['https://portal.example.gov/app', 'https://portal.example.gov/', 'portal.example.gov', 'https://ok.example.gov,ftp://files.example.gov', '*']) {
    refuses(t, { ENCRYPTION_KEY: KEY, CORS_ORIGINS: origins }, 'CORS_ORIGINS', `CORS_ORIGINS=${origins}`)
  }
})

t.test('BOOTSTRAP defaults to true on the embedded database and false with DATABASE_URL; it can be set either way', async (t) => {
  const dir = tempDir(t)
  t.equal(loadConfig({ DATA_DIR: dir }).BOOTSTRAP, true)
  t.equal(loadConfig({ DATABASE_URL, ENCRYPTION_KEY: KEY }).BOOTSTRAP, false)
  t.equal(loadConfig({ DATABASE_URL, ENCRYPTION_KEY: KEY, BOOTSTRAP: 'true' }).BOOTSTRAP, true)
  t.equal(loadConfig({ DATA_DIR: dir, BOOTSTRAP: 'false' }).BOOTSTRAP, false)
  refuses(t, { ENCRYPTION_KEY: KEY, BOOTSTRAP: 'yes' }, 'BOOTSTRAP')
})

t.test('the server process with PORT=abc exits non-zero, names PORT on stderr, and writes nothing', async (t) => {
  const dir = tempDir(t)
  const server = startServer({ PORT: 'abc', DATA_DIR: dir })
  const timer = setTimeout(() => { server.child.kill('SIGKILL') }, 60_000)
  const code = await server.exited
  clearTimeout(timer)
  t.not(code, 0, 'exits non-zero')
  t.equal(code, 1)
  t.match(server.stderr(), /\bPORT\b/, 'stderr names PORT')
  t.match(server.stderr(), /"abc"/, 'and the value it got')
  t.equal(server.stdout(), '', 'nothing on stdout')
  t.notOk(existsSync(join(dir, 'encryption.key')), 'no key is generated when the configuration is refused')
  t.notOk(existsSync(join(dir, 'pgdata')), 'no database is created')
})
