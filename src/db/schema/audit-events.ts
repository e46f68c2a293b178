import { index, jsonb, pgTable, primaryKey, timestamp, uuid, varchar } from 'drizzle-orm/pg-core'
import { cityId } from './columns.js'

/**
 * Who did what to which object, and when. Append-only (a trigger refuses UPDATE and DELETE) and free of
 * personal data: details hold field names and ids, never values typed by a resident.
 *
 * The trail names its city and the acting key by id, without foreign keys: it is history, written only by the
 * API from the caller it verified, in the statement of the change it records (cities and keys are never
 * deleted; a key is revoked). A foreign key is checked row by row, each check taking a share lock on the city's
 * row and the key's (shared by every concurrent import with that key): on a 1,000-report import the two
 * checks took a sixth of PostgreSQL's time.
 */
export const auditEvents = pgTable('audit_events', {
  cityId: cityId(),
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
  index('audit_events_object_idx').on(t.cityId, t.objectType, t.objectId, t.id)
])
