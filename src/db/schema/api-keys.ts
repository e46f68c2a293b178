import { foreignKey, pgTable, primaryKey, text, timestamp, uuid, varchar, char } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { cityId, createdAt } from './columns.js'

/** Only a SHA-256 of the secret is kept; the plaintext is shown once, in the create response. */
export const apiKeys = pgTable('api_keys', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  name: varchar('name', { length: 200 }).notNull(),
  displayPrefix: varchar('display_prefix', { length: 16 }).notNull(),
  secretHash: char('secret_hash', { length: 64 }).notNull().unique(),
  scopes: text('scopes').array().notNull(),
  sources: text('sources').array(),
  createdByKeyId: uuid('created_by_key_id'),
  createdAt: createdAt(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' })
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.createdByKeyId], foreignColumns: [t.cityId, t.id] })
])
