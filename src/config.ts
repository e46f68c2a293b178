import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'
import { convertText } from './lib/validation.js'

const Bool = Type.Enum(['true', 'false'])

/** Every setting the process reads from its environment, validated once at start. */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Interface to listen on (0.0.0.0 in a container).' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection string; without it the embedded database in DATA_DIR is used.' })),
  DATA_DIR: Type.String({ minLength: 1, default: './data', description: 'Directory of the embedded database and its generated encryption key.' }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'Maximum connections in the PostgreSQL pool.' }),
  DATABASE_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 5000, description: 'How long to wait for a pool connection.' }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 3600000, default: 30000, description: 'statement_timeout of every connection.' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level.' }),
  CORS_ORIGINS: Type.String({ default: '', description: 'Comma-separated origins allowed to call the API from a browser (the city portal).' }),
  ENCRYPTION_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$', description: '32 bytes, base64: the key that wraps personal data keys. Generated into DATA_DIR on the embedded database; required with DATABASE_URL.' })),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, maximum: 1000000, default: 600, description: 'Requests allowed per API key (or client address without a key) per window.' }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000, description: 'Rate-limit window.' }),
  AUTH_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 5000, description: 'How long a verified API key, with its city\'s settings, is remembered by one process; 0 checks the database on every request.' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 104857600, default: 1048576, description: 'Largest request body accepted (batch endpoints may allow more).' }),
  IDEMPOTENCY_TTL_HOURS: Type.Integer({ minimum: 24, maximum: 720, default: 24, description: 'How long an Idempotency-Key and its response are kept.' }),
  SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, maximum: 600000, default: 10000, description: 'How long in-flight requests may run after SIGTERM.' }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000, description: 'Event-loop delay above which requests are shed with 503 (0 turns it off).' }),
  BOOTSTRAP: Type.Optional(Bool),
  TRUST_PROXY: Bool
}, { additionalProperties: true })

export type Config = Omit<Static<typeof ConfigSchema>, 'ENCRYPTION_KEY' | 'BOOTSTRAP' | 'TRUST_PROXY'> & {
  ENCRYPTION_KEY: Buffer
  BOOTSTRAP: boolean
  TRUST_PROXY: boolean
  corsOrigins: string[]
}

export class ConfigError extends Error {}

const check = Compile(ConfigSchema)
const defaults = { TRUST_PROXY: 'false' }

/**
 * Reads the environment once. Any bad value throws a ConfigError naming the variable, so the process
 * stops before it listens rather than running half-configured.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = { ...defaults }
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const converted = convertText(ConfigSchema, Value.Default(ConfigSchema, raw)) as Record<string, unknown>
  if (!check.Check(converted)) {
    const messages = [...check.Errors(converted)].map((e) => {
      const name = e.instancePath.replace(/^\//, '') || String((e.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? 'environment')
      return `${name}: ${e.message} (got ${JSON.stringify(raw[name])})`
    })
    throw new ConfigError(`Invalid configuration:\n  ${[...new Set(messages)].join('\n  ')}`)
  }
  const c = converted as Static<typeof ConfigSchema>
  const origins = c.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError(`Invalid configuration:\n  CORS_ORIGINS: "${origin}" is not an origin like https://portal.example.gov`)
  }
  return {
    ...c,
    DATA_DIR: resolve(c.DATA_DIR),
    ENCRYPTION_KEY: encryptionKey(c),
    BOOTSTRAP: c.BOOTSTRAP === undefined ? c.DATABASE_URL === undefined : c.BOOTSTRAP === 'true',
    TRUST_PROXY: c.TRUST_PROXY === 'true',
    corsOrigins: origins
  }
}

/**
 * With a real database the key must come from the operator (a key lost with a container would make every
 * personal field unreadable). The embedded database keeps its generated key beside its data.
 */
function encryptionKey (c: Static<typeof ConfigSchema>): Buffer {
  if (c.ENCRYPTION_KEY !== undefined) return Buffer.from(c.ENCRYPTION_KEY, 'base64')
  if (c.DATABASE_URL !== undefined) {
    throw new ConfigError('Invalid configuration:\n  ENCRYPTION_KEY: required when DATABASE_URL is set (32 random bytes, base64; e.g. `openssl rand -base64 32`)')
  }
  const dir = resolve(c.DATA_DIR)
  const file = join(dir, 'encryption.key')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' })
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  if (key.length !== 32) throw new ConfigError(`Invalid configuration:\n  ENCRYPTION_KEY: ${file} does not hold 32 base64 bytes`)
  return key
}
