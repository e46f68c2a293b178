import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { query, textArrayLiteral, type Executor } from '../db/client.js'
import { auditInsert, type AuditActor, type AuditEntry } from './audit.js'

/**
 * What a resource declares once so that its imports are written set-based: its table, the value of each
 * column it writes (by the table's property names; `cityId` is added), and its natural key. Everything else
 * — the unnest statement, the upsert rules, the audit — is the same for every resource.
 */
export interface BulkTable<W> {
  table: PgTable
  /** The columns an import writes, and how each gets its value from a row to write. */
  values: Record<string, (row: W) => unknown>
  /** The natural key after city_id, by property name: ['source', 'externalId'] or ['externalId']. */
  key: string[]
  /**
   * What a whole row is read as, when it is read whole (RETURNING, look-ups): the table's columns by default;
   * a resource adds what it shows from other tables, and decodes it.
   */
  read?: { columns: SQL, decode: (raw: Record<string, unknown>) => unknown }
  /**
   * Rows that are never rewritten once stored (a survey response, which has no version): a row whose key is
   * taken is left alone and not returned, as a concurrent write's would be.
   */
  insertOnly?: boolean
}

/** A row an import writes: its id, the version it will have (the stored one plus one; 1 when new), and the rest. */
export interface BulkRow { id: string, version: number }

interface Column { name: string, read: string, text: (value: unknown) => string | null, plain?: boolean }

/** How a value of each SQL type travels inside a text[] parameter, and is read back. */
function columnOf (column: PgColumn): Column {
  const type = column.getSQLType()
  const read = (cast: string): string => `u."${column.name}"::${cast}`
  const plain = (value: unknown): string | null => value === null || value === undefined ? null : String(value)
  if (type === 'bytea') return { name: column.name, read: `decode(u."${column.name}", 'hex')`, text: (v) => v == null ? null : (v as Buffer).toString('hex'), plain: true }
  if (type.endsWith('[]')) return { name: column.name, read: read(type), text: (v) => v == null ? null : textArrayLiteral(v as string[]) }
  if (type.startsWith('timestamp')) return { name: column.name, read: read('timestamptz'), text: (v) => v == null ? null : (v as Date).toISOString(), plain: true }
  if (type === 'jsonb' || type === 'json') return { name: column.name, read: read(type), text: (v) => v === undefined ? null : JSON.stringify(v) }
  // Text goes in as it is, so that the column's own length check applies (an explicit cast would truncate).
  if (type === 'text' || type.startsWith('varchar') || type.startsWith('char')) return { name: column.name, read: `u."${column.name}"`, text: plain }
  return { name: column.name, read: read(type), text: plain }
}

/** Everything about a table's bulk writes that can be worked out once. */
interface Plan<W> {
  name: string
  columns: Array<Column & { value: (row: W) => unknown }>
  names: SQL
  reads: SQL
  onConflict: SQL
  all: SQL
}

const plans = new WeakMap<BulkTable<never>, Plan<never>>()

function planOf<W> (spec: BulkTable<W>): Plan<W> {
  const known = plans.get(spec as BulkTable<never>) as Plan<W> | undefined
  if (known !== undefined) return known
  const name = getTableName(spec.table)
  const byProperty = getTableColumns(spec.table) as Record<string, PgColumn>
  const columns = Object.entries(spec.values).map(([property, value]) => {
    const column = byProperty[property]
    if (column === undefined) throw new Error(`${name} has no column ${property}`)
    return { ...columnOf(column), value }
  })
  const keyColumns = spec.key.map((property) => byProperty[property]?.name as string)
  const personal = 'personalDataErasedAt' in byProperty
  // An update rewrites what the import names, but never the row's identity; personal data stays erased.
  const replaced = columns.map((c) => c.name).filter((c) => c !== 'id' && !keyColumns.includes(c) && !(personal && (c === 'personal_data' || c === 'data_key')))
  const sets = [
    ...replaced.map((c) => `"${c}" = excluded."${c}"`),
    ...(personal ? [`personal_data = CASE WHEN ${name}.personal_data_erased_at IS NULL THEN excluded.personal_data END`, `data_key = CASE WHEN ${name}.personal_data_erased_at IS NULL THEN excluded.data_key END`] : []),
    'updated_at = now()'
  ]
  const plan: Plan<W> = {
    name,
    columns,
    names: sql.raw(columns.map((c) => `"${c.name}"`).join(', ')),
    reads: sql.raw(columns.map((c) => c.read).join(', ')),
    onConflict: sql.raw(spec.insertOnly === true
      ? `ON CONFLICT (city_id, ${keyColumns.map((c) => `"${c}"`).join(', ')}) DO NOTHING`
      : `ON CONFLICT (city_id, ${keyColumns.map((c) => `"${c}"`).join(', ')}) DO UPDATE SET ${sets.join(', ')}
      WHERE ${name}.id = excluded.id AND ${name}.version = excluded.version - 1`),
    all: allColumnsOf(spec.table)
  }
  plans.set(spec as BulkTable<never>, plan as Plan<never>)
  return plan
}

type Decoder = (raw: Record<string, unknown>) => Record<string, unknown>

const decoders = new WeakMap<PgTable, Decoder>()

/**
 * The decoder of a table's rows, built once: one object literal with every property in the table's order, so
 * that each decoded row has the same fixed shape. Rows built property by property from the column list turn
 * into hash tables after a dozen properties, and every later read of them (presenting, serializing) pays for it.
 */
function decoderOf (table: PgTable): Decoder {
  const known = decoders.get(table)
  if (known !== undefined) return known
  const columns = Object.entries(getTableColumns(table))
  const members = columns.map(([property, column], i) =>
    `${JSON.stringify(property)}: (v = raw[${JSON.stringify(column.name)}]) === null || v === undefined ? null : c[${i}].mapFromDriverValue(v)`)
  // eslint-disable-next-line no-new-func -- the source is built from the schema's own names only
  const decode = new Function('c', `return function decode (raw) { let v; return {\n${members.join(',\n')}\n} }`)(columns.map(([, column]) => column)) as Decoder
  decoders.set(table, decode)
  return decode
}

/** A row of a table as the driver returned it from raw SQL (snake_case), decoded by each column's own mapping. */
export function decodeRow<R> (table: PgTable, raw: Record<string, unknown>): R {
  return decoderOf(table)(raw) as R
}

/** Every column of a table, qualified by its name, for raw SELECTs decoded with decodeRow. */
export function allColumnsOf (table: PgTable): SQL {
  const name = getTableName(table)
  return sql.raw(Object.values(getTableColumns(table)).map((c) => `${name}."${c.name}"`).join(', '))
}

export interface Written<R> { id: string, inserted: boolean, row?: R }

/**
 * Inserts or updates many rows in one statement, keyed on the table's natural key, and audits what it wrote
 * in the same statement. An existing row is only rewritten when it is still the row the caller merged the
 * import into: the same id (its personal data was sealed for that id) at the version it read. Otherwise (a
 * concurrent import created it, a PATCH changed it) the row is left alone and not returned, and the caller
 * merges again. Erased personal data stays erased. Returns the rows written, whole with `returnRows`.
 *
 * The rows travel as one text[] parameter per column (unnest), not as a VALUES list of a parameter per value:
 * building a statement of tens of thousands of parameters cost more CPU than everything else an import does.
 * Columns not named keep what is stored, or take their defaults.
 */
export async function bulkUpsert<W extends BulkRow, R> (db: Executor, spec: BulkTable<W>, cityId: string, rows: W[],
  audit: { actor: AuditActor, entries: AuditEntry[] }, returnRows = false): Promise<Array<Written<R>>> {
  if (rows.length === 0) return []
  const plan = planOf(spec)
  const arrays = sql.join(plan.columns.map((c) => sql`${textArrayLiteral(rows.map((row) => c.text(c.value(row))), c.plain)}::text[]`), sql.raw(', '))
  const written = await query<Record<string, unknown>>(db, sql`WITH written AS (
    INSERT INTO ${sql.raw(plan.name)} (city_id, ${plan.names})
    SELECT ${cityId}::uuid, ${plan.reads}
    FROM unnest(${arrays}) AS u(${plan.names})
    ${plan.onConflict}
    RETURNING ${returnRows ? spec.read?.columns ?? plan.all : sql.raw(`${plan.name}.id`)}, (xmax = 0) AS inserted
  ), audited AS (${auditInsert(cityId, audit.actor, audit.entries, sql`SELECT id FROM written`)})
  SELECT * FROM written`)
  const decode = (raw: Record<string, unknown>): R => (spec.read?.decode(raw) ?? decodeRow<R>(spec.table, raw)) as R
  return written.map((raw) => ({ id: raw.id as string, inserted: raw.inserted as boolean, ...(returnRows ? { row: decode(raw) } : {}) }))
}
