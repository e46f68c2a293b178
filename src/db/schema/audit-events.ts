import { foreignKey, index, jsonb, pgTable, primaryKey, timestamp, uuid, varchar } from 'drizzle-orm/pg-core'
import { apiKeys } from './api-keys.js'
import { cities } from './cities.js'
import { cityId } from './columns.js'

/**
 * Who did what to which object, and when. Append-only (a trigger refuses UPDATE and DELETE) and free of
 * personal data: details hold field names and ids, never values typed by a resident.
 */
export const auditEvents = pgTable('audit_events', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  actorType: varchar('actor_type', { length: 16 }).notNull(),
  actorKeyId: uuid('actor_key_id'),
  action: varchar('action', { length: 64 }).notNull(),
  objectType: varchar('object_type', { length: 64 }).notNull(),
  objectId: varchar('object_id', { length: 64 }).notNull(),
  requestId: varchar('request_id', { length: 128 }),
  details: jsonb('details').$type<Record<string, unknown>>().notNull().default({})
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  foreignKey({ columns: [t.cityId, t.actorKeyId], foreignColumns: [apiKeys.cityId, apiKeys.id] }),
  index('audit_events_object_idx').on(t.cityId, t.objectType, t.objectId, t.id)
])
