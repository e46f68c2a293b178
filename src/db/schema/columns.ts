import { sql } from 'drizzle-orm'
import { bigint, char, customType, integer, timestamp, uuid } from 'drizzle-orm/pg-core'

/** Every tenant table starts with the city it belongs to; it leads every primary key and foreign key. */
export const cityId = () => uuid('city_id').notNull()

export const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
export const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()

/** Ciphertext and hashes are kept as raw bytes. */
export const bytea = customType<{ data: Buffer, driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.isBuffer(value) ? value : Buffer.from(value)
})

/**
 * The transaction that last wrote the row (its 64-bit id): the change feed's order. Set on insert by this
 * default and on every update by the `stamp_change_xid` trigger (migrations/), so no write can forget it.
 */
export const changeXid = () => bigint('change_xid', { mode: 'number' }).notNull().default(sql`pg_current_xact_id()::text::bigint`)

/**
 * Where a record keeps its personal data (lib/personal-data.ts): sealed under a data key of its own, itself
 * sealed by ENCRYPTION_KEY; erasing destroys both and stamps when.
 */
export const personalDataColumns = () => ({
  personalData: bytea('personal_data'),
  dataKey: bytea('data_key'),
  personalDataErasedAt: timestamp('personal_data_erased_at', { withTimezone: true, mode: 'date' })
})

/**
 * What every imported, versioned record carries: the keyed hash of the body it was last imported from (an
 * unchanged re-import is recognised without reading it), its version (ETag), its place in the change feed and
 * its times.
 */
export const recordColumns = () => ({
  contentHash: char('content_hash', { length: 64 }).notNull(),
  version: integer('version').notNull().default(1),
  changeXid: changeXid(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
})
