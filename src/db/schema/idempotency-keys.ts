import { foreignKey, index, integer, jsonb, pgTable, primaryKey, timestamp, uuid, varchar, char } from 'drizzle-orm/pg-core'
import { apiKeys } from './api-keys.js'
import { bytea, cityId, createdAt } from './columns.js'

/**
 * One row per Idempotency-Key and API key. The stored response body is encrypted, so this table never
 * becomes a plaintext copy of what the responses carried.
 */
export const idempotencyKeys = pgTable('idempotency_keys', {
  cityId: cityId(),
  apiKeyId: uuid('api_key_id').notNull(),
  key: varchar('key', { length: 255 }).notNull(),
  fingerprint: char('fingerprint', { length: 64 }).notNull(),
  lockedUntil: timestamp('locked_until', { withTimezone: true, mode: 'date' }),
  responseStatus: integer('response_status'),
  responseHeaders: jsonb('response_headers').$type<Record<string, string>>(),
  responseBody: bytea('response_body'),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.apiKeyId, t.key] }),
  foreignKey({ columns: [t.cityId, t.apiKeyId], foreignColumns: [apiKeys.cityId, apiKeys.id] }),
  index('idempotency_keys_expires_at_idx').on(t.expiresAt)
])
