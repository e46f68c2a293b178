import { sql, type SQL } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'

/**
 * The change feed (`order=updated_asc`) pages through rows by the transaction that last wrote them
 * (`change_xid`, see db/schema/columns.ts), and shows a row only once every transaction that could still
 * commit a row before it has ended. Timestamps cannot give that guarantee: `now()` is when a transaction
 * began, so a long import commits rows stamped earlier than those of shorter transactions a partner has
 * already paged past. Transaction ids can: one still running is listed in the statement's snapshot, and one
 * that starts writing later gets a higher id than any seen now.
 *
 * The horizon is the lowest id still running in this database (or the snapshot's xmax when none is). Running
 * transactions of other databases on the same server are left out by matching them in pg_stat_activity (its
 * backend_xid is the 32-bit form of the id), so parallel work elsewhere does not hold this feed back; one that
 * cannot be placed counts as this database's, which only delays rows, never loses one. Read-only
 * transactions (exports, long reads) have no id and never hold the feed back.
 */
const HORIZON = sql.raw(`(SELECT least(pg_snapshot_xmax(snap.s)::text::bigint, coalesce((
    SELECT min(x::text::bigint) FROM pg_snapshot_xip(snap.s) AS x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                      WHERE a.datname <> current_database() AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)
  ), pg_snapshot_xmax(snap.s)::text::bigint)) FROM (SELECT pg_current_snapshot() AS s) AS snap)`)

/** The condition that keeps a feed query to rows no later commit can precede. */
export const settledChanges = (changeXid: AnyPgColumn): SQL => sql`${changeXid} < ${HORIZON}`
