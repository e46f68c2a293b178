import { sql } from 'drizzle-orm'
import { bigint, customType, timestamp, uuid } from 'drizzle-orm/pg-core'

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
