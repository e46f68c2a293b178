import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { FastifyRequest } from 'fastify'
import type { Db, Executor } from '../db/client.js'
import { callerOf, type Caller } from '../plugins/auth.js'
import { actorOf, recordAudits } from './audit.js'
import { openPersonal, sealPersonal, type Sealed } from './envelope.js'
import { grants } from './scopes.js'

/** The columns a record keeps its personal data in (db/schema/columns.ts `personalDataColumns`). */
export interface SealedRecord {
  cityId: string
  id: string
  personalData: Buffer | null
  dataKey: Buffer | null
  personalDataErasedAt: Date | null
}

/** The personal data of a record as one reader may see it. */
export type PersonalView<T> = { kind: 'hidden' } | { kind: 'shown', data: T | null } | { kind: 'unreadable' }

export const HIDDEN: PersonalView<never> = { kind: 'hidden' }

/** Whether a record holds personal data, had it erased, or never had any: said on every record, to every reader. */
export const personalDataState = (row: SealedRecord): 'held' | 'none' | 'erased' =>
  row.personalDataErasedAt !== null ? 'erased' : row.personalData !== null ? 'held' : 'none'

/**
 * One resource's personal data: sealed per record under a data key of its own (lib/envelope.ts), bound to city,
 * kind and record; shown only to keys holding the resource's personal-data scope, and every read audited;
 * erased for good by destroying the record's key. A resource says which of its fields are personal (the type
 * T it seals) and which scope reveals them; this module does the rest, the same way for every resource.
 */
export class PersonalData<T> {
  readonly #masterKey: Buffer

  constructor (masterKey: Buffer, readonly kind: string, readonly scope: string) {
    this.#masterKey = masterKey
  }

  seal (cityId: string, id: string, data: T): Sealed {
    return sealPersonal(this.#masterKey, cityId, this.kind, id, data)
  }

  /** The sealed columns of a record holding `data` (or nothing), ready to write. */
  sealed (cityId: string, id: string, data: T | null): { personalData: Buffer | null, dataKey: Buffer | null } {
    if (data === null) return { personalData: null, dataKey: null }
    const sealed = this.seal(cityId, id, data)
    return { personalData: sealed.data, dataKey: sealed.dataKey }
  }

  /**
   * A record's personal data, opened, or 'unreadable' when its ciphertext fails the integrity check (it was
   * altered, moved to another row, or sealed under another key).
   */
  open (row: SealedRecord): T | null | 'unreadable' {
    if (row.personalData === null || row.dataKey === null) return null
    try {
      return openPersonal<T>(this.#masterKey, row.cityId, this.kind, row.id, { data: row.personalData, dataKey: row.dataKey })
    } catch {
      return 'unreadable'
    }
  }

  /** Whether the caller may see this resource's personal data. */
  mayRead (caller: Caller): boolean {
    return grants(caller.scopes, this.scope)
  }

  /** What the caller may see of a record's personal data; an unreadable record is logged (by id only). */
  view (request: FastifyRequest, caller: Caller, row: SealedRecord): PersonalView<T> {
    if (!this.mayRead(caller)) return HIDDEN
    const data = this.open(row)
    if (data !== 'unreadable') return { kind: 'shown', data }
    request.log.error({ [this.kind]: row.id }, `personal data of a ${this.kind} failed its integrity check`)
    return { kind: 'unreadable' }
  }

  /**
   * Erases a record's personal data for good (eraseSealed) and audits it, in one transaction. Returns false when
   * no such record is in the caller's city (within `scope`).
   */
  async erase (db: Db, request: FastifyRequest, table: PgTable & ErasableTable, id: string, scope?: SQL): Promise<boolean> {
    const cityId = callerOf(request).cityId
    return await db.transaction(async (tx) => {
      const row = await eraseSealed<{ id: string }>(tx, table, cityId, id, scope)
      if (row === undefined) return false
      await recordAudits(tx, cityId, actorOf(request), [{ action: `${this.kind}.personal_data_erased`, objectType: this.kind, objectId: row.id }])
      return true
    })
  }

  /**
   * Audits that a request revealed the personal data of these records: one event per record, in one statement,
   * so that "who saw this person's data" is answered by the record's own audit trail.
   */
  async recordReads (db: Executor, request: FastifyRequest, rows: Array<{ row: SealedRecord, view: PersonalView<T> }>): Promise<void> {
    const revealed = rows.filter(({ row, view }) => view.kind !== 'hidden' && row.personalData !== null)
    if (revealed.length === 0) return
    await recordAudits(db, revealed[0]?.row.cityId as string, actorOf(request), revealed.map(({ row, view }) => ({
      action: `${this.kind}.personal_data_read`, objectType: this.kind, objectId: row.id, details: { readable: view.kind === 'shown' }
    })))
  }
}

interface ErasableTable {
  cityId: PgColumn
  id: PgColumn
  personalData: PgColumn
  dataKey: PgColumn
  personalDataErasedAt: PgColumn
  version: PgColumn
  updatedAt: PgColumn
}

/**
 * Destroys a record's data key and sealed personal data; the record stays. Returns the erased row, or
 * undefined when no such record is in the city (within `scope`, e.g. a partner's sources).
 */
export async function eraseSealed<R> (db: Executor, table: PgTable & ErasableTable, cityId: string, id: string, scope?: SQL): Promise<R | undefined> {
  const [row] = await db.update(table).set({
    personalData: null,
    dataKey: null,
    personalDataErasedAt: sql`coalesce(${table.personalDataErasedAt}, now())`,
    version: sql`${table.version} + 1`,
    updatedAt: sql`now()`
  } as never).where(and(eq(table.cityId, cityId), eq(table.id, id), scope)).returning()
  return row as R | undefined
}
