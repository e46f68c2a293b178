import { Readable } from 'node:stream'
import { stringify } from 'csv-stringify/sync'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { sql, type SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { query, QUERY_TIMEOUT_MARGIN_MS, type Database, type Db } from '../db/client.js'
import { callerOf } from '../plugins/auth.js'
import { actorOf, recordAudit, type AuditEntry } from './audit.js'
import { NDJSON_TYPE } from './ndjson.js'
import { ProblemError } from './problems.js'

/**
 * Streaming exports: the rows of a query sent as CSV, NDJSON or a JSON array, for analysts' tools.
 *
 * How rows are read depends on the driver:
 * - PostgreSQL, CSV of a query whose columns are the export's (`asSelected`): PostgreSQL writes the CSV itself
 *   (COPY ... TO STDOUT) and its bytes pass through to the socket (copiedCsv).
 * - PostgreSQL otherwise: a server-side cursor (DECLARE ... CURSOR, then FETCH a batch at a time) in a READ ONLY
 *   transaction on a connection of its own: one pass over the rows, however many. Each FETCH is its own
 *   statement, so the pool's statement_timeout and query timeout bound each batch, not the whole download.
 *   A read-only transaction is never assigned a transaction id, so the change feed's horizon
 *   (lib/change-feed.ts), which waits only for transactions holding one, is never held back by an export.
 *   What the open transaction does hold is a snapshot (VACUUM keeps the row versions it can see): a client that
 *   stops reading is cut off after EXPORT_IDLE_TIMEOUT (idle_in_transaction_session_timeout).
 * - PGlite has one connection, shared by every request: a cursor's transaction held open for the whole
 *   download would stall every other request behind it. Rows are read in keyset pages instead, each its own
 *   short query that other requests interleave with. The price is that such an export is not one snapshot: a
 *   row changed while it is downloaded shows as it is when its page is read. Pages follow a unique key, so no
 *   row is sent twice and none that stays put is missed.
 *
 * Memory stays flat whatever the size: the next batch is read only when the previous one has been taken by
 * the socket (Readable.from pulls from the generator on demand), so at most a batch and the socket's buffer
 * are held. A client that disconnects destroys the stream: the generator is ended, the cursor's transaction
 * rolled back and its connection returned to the pool; no further batch is read.
 */

export type ExportFormat = 'csv' | 'ndjson' | 'json'

export const EXPORT_MEDIA_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv',
  ndjson: NDJSON_TYPE,
  json: 'application/json'
}

const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', ndjson: 'ndjson', json: 'json' }

/** A cell's value: lists are joined with LIST_DELIMITER in CSV and stay arrays in NDJSON and JSON. */
export type CellValue = string | number | boolean | null | readonly string[]

/** Frictionless Table Schema field types the exports use. */
export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'datetime' | 'list'

export interface ExportColumn<Row> {
  name: string
  type: FieldType
  description: string
  /** The values the column may hold, when they are a fixed set (published as the field's enum constraint). */
  enum?: readonly string[]
  required?: boolean
  value: (row: Row) => CellValue
}

/**
 * What an export reads: its rows in a unique order (the statement ends with ORDER BY over a unique key, and
 * has no LIMIT), starting after the row `after` when given, so that PGlite can read it in keyset pages.
 */
export type ExportQuery<Row> = (after: Row | undefined) => SQL

/**
 * Rows that are not one query's (figures computed and suppressed as a whole, then cut into chunks): a page
 * after `after` (undefined: the first), at most `limit` rows; a shorter page is the last.
 */
export type PageReader<Row> = (db: Db, after: Row | undefined, limit: number) => Promise<Row[]>

/**
 * Where an export's rows come from: a query (read through a cursor or in pages), or pages of its own.
 * `asSelected`: the query's output columns are the export's columns, by name, each already as it is written
 * (lists joined with LIST_DELIMITER, flags as text): PostgreSQL then writes the CSV itself (copiedCsv).
 */
export type ExportSource<Row> = { select: ExportQuery<Row>, asSelected?: boolean } | { readPage: PageReader<Row> }

export const LIST_DELIMITER = ';'

/** What a spreadsheet runs as a formula when a cell begins with it (OWASP, CSV Injection): = + - @ tab CR. */
const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r'].map((c) => c.charCodeAt(0))

/**
 * Neutralises a cell that a spreadsheet would run as a formula: a cell beginning with one of FORMULA_STARTS gets
 * a leading single quote. Applied to text cells only: numbers are written by the program, never by a resident,
 * and a negative number must stay a number. Every CSV export goes through it, or through its SQL form in
 * copyStatement (the same characters).
 */
export function neutraliseFormula (cell: string): string {
  return FORMULA_STARTS.includes(cell.charCodeAt(0)) ? `'${cell}` : cell
}

/**
 * RFC 4180 with CRLF line ends. csv-stringify quotes a cell for its record delimiter only when the cell holds the
 * whole of it (CRLF): a lone LF or CR would be written raw, and a spreadsheet starts a new row there, whose
 * first cell is whatever the resident wrote after it (`Harbor\n=HYPERLINK(...)`), not neutralised since it does
 * not begin the cell. `quoted_match` quotes every cell holding either; inside quotes a line break is the cell's
 * own, and what follows it is text, never a formula.
 */
const CSV_OPTIONS = { record_delimiter: '\r\n' as const, quoted_match: /[\r\n]/ }

/** What makes csv-stringify quote a cell with these options: the delimiter, the quote, a CR or an LF. */
const NEEDS_QUOTING = /[",\r\n]/

/** A cell as CSV text before quoting: empty for a missing value, lists joined, text neutralised. */
function csvText (cell: CellValue | undefined): string {
  if (cell === null || cell === undefined) return ''
  if (typeof cell === 'string') return neutraliseFormula(cell)
  if (typeof cell === 'number') return String(cell)
  if (typeof cell === 'boolean') return cell ? 'true' : 'false'
  return neutraliseFormula(cell.join(LIST_DELIMITER))
}

/**
 * CSV text of rows already turned into cells: RFC 4180, CRLF line ends. A row with a cell that needs quoting
 * is written by csv-stringify; a row without one is the same whoever writes it, its cells joined by commas, and
 * is joined here: csv-stringify costs about ten microseconds a row, most of an export's time, for rows it
 * would leave as they are.
 */
export function csvLines (records: CellValue[][]): string {
  let text = ''
  for (const record of records) {
    const cells = record.map(csvText)
    text += cells.some((cell) => NEEDS_QUOTING.test(cell)) ? stringify([cells], CSV_OPTIONS) : cells.join(',') + '\r\n'
  }
  return text
}

/** One row as its cells, in column order. */
const cellsOf = <Row>(columns: ReadonlyArray<ExportColumn<Row>>, row: Row): CellValue[] => columns.map((c) => c.value(row))

/**
 * A cell as a JSON value of its column's type. On PostgreSQL every value arrives as text (see exportTypes), so
 * a query writes a list with array_to_string(..., ';') and a boolean with ::text; on PGlite and from pages of
 * their own, values arrive typed and pass through.
 */
function jsonValue (type: FieldType, value: CellValue): CellValue {
  if (typeof value !== 'string') return value
  switch (type) {
    case 'integer':
    case 'number': return Number(value)
    case 'boolean': return value === 'true' || value === 't'
    case 'list': return value === '' ? [] : value.split(LIST_DELIMITER)
    default: return value
  }
}

function objectOf<Row> (columns: ReadonlyArray<ExportColumn<Row>>, row: Row): Record<string, CellValue> {
  const out: Record<string, CellValue> = {}
  for (const column of columns) out[column.name] = jsonValue(column.type, column.value(row))
  return out
}

/** The text of one batch in a format; `first` says whether anything was written before it. */
function formatPage<Row> (format: ExportFormat, columns: ReadonlyArray<ExportColumn<Row>>, rows: Row[], first: boolean): string {
  if (format === 'csv') return csvLines(rows.map((row) => cellsOf(columns, row)))
  if (format === 'ndjson') {
    let text = ''
    for (const row of rows) text += JSON.stringify(objectOf(columns, row)) + '\n'
    return text
  }
  let text = ''
  for (let i = 0; i < rows.length; i++) text += (first && i === 0 ? '' : ',\n') + JSON.stringify(objectOf(columns, rows[i] as Row))
  return text
}

/** Rows read at a time: a PGlite page or a FETCH of the cursor. */
export const EXPORT_BATCH_SIZE = 1000

/** How long a PostgreSQL export waits for its client to take the next batch before the server ends it. */
export const EXPORT_IDLE_TIMEOUT = '10min'

const dialect = new PgDialect()

/**
 * Every value as PostgreSQL writes it in text, unparsed: parsing arrays, numbers and booleans into JavaScript
 * values cost more than the rest of an export, and most cells are written out as text again. The cells are
 * typed by their column's declared type where the format needs it (see jsonValue).
 */
const asWritten = (value: string): string => value
const exportTypes = { getTypeParser: () => asWritten }

/** The rows of a query through a server-side cursor, a batch at a time (PostgreSQL). */
async function * cursorBatches<Row> (pool: pg.Pool, statement: SQL, batchSize: number): AsyncGenerator<Row[]> {
  const { sql: text, params } = dialect.sqlToQuery(statement)
  const client = await pool.connect()
  let broken: Error | undefined
  let ahead: Promise<Row[]> | undefined
  try {
    await client.query('BEGIN READ ONLY')
    // The plan for all the rows (as COPY would make), not for the first tenth a cursor is planned for.
    await client.query('SET LOCAL cursor_tuple_fraction = 1')
    await client.query(`SET LOCAL idle_in_transaction_session_timeout = '${EXPORT_IDLE_TIMEOUT}'`)
    await client.query({ text: `DECLARE export_rows NO SCROLL CURSOR FOR ${text}`, values: params, types: exportTypes } as pg.QueryConfig)
    const fetchBatch = (): Promise<Row[]> => {
      const batch = client.query<Row & pg.QueryResultRow>({ text: `FETCH ${batchSize} FROM export_rows`, types: exportTypes } as pg.QueryConfig).then((r) => r.rows)
      // A batch fetched ahead may fail while the client is not reading (the session cut off after
      // EXPORT_IDLE_TIMEOUT): the failure is taken up when the batch is awaited, not left unhandled meanwhile.
      batch.catch(() => {})
      return batch
    }
    // One batch is fetched ahead while the one before it is written out, so that PostgreSQL and this process
    // work at the same time; at most two batches are held.
    ahead = fetchBatch()
    for (;;) {
      const rows: Row[] = await ahead
      ahead = rows.length === batchSize ? fetchBatch() : undefined
      if (rows.length > 0) yield rows
      if (ahead === undefined) break
    }
  } catch (err) {
    broken = err as Error
    throw err
  } finally {
    // Also reached when the client went away (the generator is returned): the batch fetched ahead is waited
    // for (the connection answers in order), then the transaction ends here.
    if (ahead !== undefined) await ahead.catch((err: Error) => { broken ??= err })
    if (broken === undefined) await client.query('ROLLBACK').catch((err: Error) => { broken = err })
    client.release(broken)
  }
}

/** The longest a PostgreSQL export written by COPY may run, download included (its statement_timeout). */
export const EXPORT_COPY_TIMEOUT_MS = 3_600_000

/** Column types whose cells are never written by a resident: left as they are, not neutralised. */
const PROGRAM_WRITTEN: ReadonlySet<FieldType> = new Set(['integer', 'number', 'boolean'])

/**
 * The COPY statement of an export whose query names its columns as the export does: the cells in column order,
 * text cells neutralised as neutraliseFormula does (in SQL), as CSV with a header row. PostgreSQL quotes every
 * value holding the delimiter, the quote, a CR or an LF, so a line break inside a cell never starts a row (as
 * CSV_OPTIONS makes csv-stringify do). COPY takes no parameters, so the query's values are written into it as
 * literals by Drizzle's own escaping.
 */
export function copyStatement<Row> (statement: SQL, columns: ReadonlyArray<ExportColumn<Row>>): string {
  // Written as literals, a value with a backslash would depend on the server's standard_conforming_strings.
  if (dialect.sqlToQuery(statement).params.some((p) => typeof p !== 'number' && (typeof p !== 'string' || p.includes('\\')))) {
    throw new Error('an export written by COPY takes numbers and text without backslashes only')
  }
  const { sql: text } = dialect.sqlToQuery(statement.inlineParams())
  const cells = columns.map(({ name, type }) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`export column name ${name} cannot be written into SQL`)
    const cell = `(export_rows."${name}")::text`
    return PROGRAM_WRITTEN.has(type)
      ? `${cell} AS "${name}"`
      : `CASE WHEN left(${cell}, 1) IN (${FORMULA_STARTS.map((code) => `chr(${code})`).join(', ')}) THEN '''' || ${cell} ELSE ${cell} END AS "${name}"`
  })
  return `COPY (SELECT ${cells.join(', ')} FROM (${text}) AS export_rows) TO STDOUT WITH (FORMAT csv, HEADER)`
}

/**
 * Line ends outside quoted cells become CRLF (RFC 4180): PostgreSQL ends CSV lines with LF. Line breaks inside
 * a quoted cell are the cell's own and stay as they are. Keeps whether it is inside quotes from one chunk to
 * the next.
 */
export function crlfLineEnds (): (chunk: Buffer) => Buffer {
  let quoted = false
  return (chunk) => {
    const ends: number[] = []
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]
      if (byte === 0x22) quoted = !quoted
      else if (byte === 0x0a && !quoted) ends.push(i)
    }
    if (ends.length === 0) return chunk
    const out = Buffer.allocUnsafe(chunk.length + ends.length)
    let from = 0
    let to = 0
    for (const end of ends) {
      to += chunk.copy(out, to, from, end)
      out[to++] = 0x0d
      from = end
    }
    chunk.copy(out, to, from)
    return out
  }
}

/**
 * CSV written by PostgreSQL (COPY ... TO STDOUT) in a READ ONLY transaction on a connection of its own, for a
 * query whose columns are the export's: the bytes pass through this process as they come, with no row parsed
 * and no string made, so memory stays flat and an export runs close to COPY's own speed. The socket's
 * backpressure reaches PostgreSQL (the copy stream stops reading the connection when it is not read). A
 * read-only transaction takes no transaction id, so the change feed is never held back. A consumer that stops
 * before the end leaves the connection in the middle of a COPY: it is closed, never given to another request.
 */
async function * copiedCsv<Row> (pool: pg.Pool, statement: SQL, columns: ReadonlyArray<ExportColumn<Row>>): AsyncGenerator<Buffer> {
  const text = copyStatement(statement, columns)
  const client = await pool.connect()
  let broken: Error | undefined
  let ended = false
  let copy: ReturnType<typeof copyTo> | undefined
  try {
    await client.query('BEGIN READ ONLY')
    await client.query(`SET LOCAL statement_timeout = ${EXPORT_COPY_TIMEOUT_MS}`)
    // The pool's query timeout bounds an ordinary statement; this one lasts as long as the download.
    copy = client.query(Object.assign(copyTo(text), { query_timeout: EXPORT_COPY_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS }))
    const lineEnds = crlfLineEnds()
    for await (const chunk of copy) yield lineEnds(chunk as Buffer)
    ended = true
  } catch (err) {
    broken = err as Error
    throw err
  } finally {
    // pg bounds the COPY with a timer it clears from the query's callback, which a copy stream never calls.
    (copy as { callback?: () => void } | undefined)?.callback?.()
    if (!ended) {
      broken ??= new Error('the export was stopped before its end')
      copy?.destroy()
    } else {
      await client.query('ROLLBACK').catch((err: Error) => { broken = err })
    }
    client.release(broken)
  }
}

/** Rows a page at a time, each page its own short read (PGlite, and sources with pages of their own). */
async function * pagedBatches<Row> (db: Db, readPage: PageReader<Row>, batchSize: number): AsyncGenerator<Row[]> {
  let after: Row | undefined
  for (;;) {
    const rows = await readPage(db, after, batchSize)
    if (rows.length > 0) yield rows
    if (rows.length < batchSize) break
    after = rows[rows.length - 1]
  }
}

/** A query's keyset pages. */
const keysetPages = <Row>(select: ExportQuery<Row>): PageReader<Row> =>
  async (db, after, limit) => await query<Row>(db, sql`${select(after)} LIMIT ${limit}`)

/** The PostgreSQL pool behind a database on the pg driver. */
const poolOf = (database: Database): pg.Pool => (database.db as unknown as { $client: pg.Pool }).$client

/** An export's rows, a batch at a time, read only as fast as they are taken. */
export function exportBatches<Row> (database: Database, source: ExportSource<Row>, batchSize = EXPORT_BATCH_SIZE): AsyncGenerator<Row[]> {
  if ('readPage' in source) return pagedBatches(database.db, source.readPage, batchSize)
  if (database.driver === 'pg') return cursorBatches<Row>(poolOf(database), source.select(undefined), batchSize)
  return pagedBatches(database.db, keysetPages(source.select), batchSize)
}

/**
 * The export's text, batch by batch, as an async generator: it reads the next batch only when asked for the
 * next chunk, so the consumer's pace (the socket's backpressure) sets the pace of the reads.
 */
export async function * exportChunks<Row> (database: Database, format: ExportFormat, columns: ReadonlyArray<ExportColumn<Row>>, source: ExportSource<Row>, batchSize = EXPORT_BATCH_SIZE): AsyncGenerator<string | Buffer> {
  if (format === 'csv' && database.driver === 'pg' && 'select' in source && source.asSelected === true) {
    yield * copiedCsv(poolOf(database), source.select(undefined), columns)
    return
  }
  if (format === 'csv') yield csvLines([columns.map((c) => c.name)])
  if (format === 'json') yield '['
  let first = true
  for await (const rows of exportBatches(database, source, batchSize)) {
    yield formatPage(format, columns, rows, first)
    first = false
  }
  if (format === 'json') yield first ? ']' : '\n]'
}

/**
 * How many exports may run at once in this process: on PostgreSQL half the pool (each export holds one
 * connection for as long as it runs), so that ordinary requests always find a connection; on PGlite, whose one
 * connection every request shares and which an export holds only while it reads a page, two.
 */
export function exportCapacity (database: Database): number {
  if (database.driver === 'pglite') return 2
  const max = poolOf(database).options.max ?? 10
  return Math.max(1, Math.floor(max / 2))
}

/** Seconds a client refused for lack of a free export slot is asked to wait. */
export const EXPORT_RETRY_AFTER_S = 30

const running = new WeakMap<Database, number>()

/**
 * Starts an export: takes a slot first (so that a refused export, 503, is not recorded as made), runs what the
 * export reads before streaming (`prepare`), reads the city's slug for the file name and records the audit
 * event. On any failure the slot is given back; otherwise streamExport gives it back when the download ends.
 */
export async function beginExport<T> (app: FastifyInstance, request: FastifyRequest, prepare: () => Promise<T>,
  audit: (prepared: T) => AuditEntry): Promise<{ release: () => void, slug: string | undefined, prepared: T }> {
  const { cityId } = callerOf(request)
  const release = takeExportSlot(app.database)
  try {
    const prepared = await prepare()
    const [city] = await query<{ slug: string }>(app.db, sql`SELECT slug FROM cities WHERE id = ${cityId}`)
    await recordAudit(app.db, cityId, actorOf(request), audit(prepared))
    return { release, slug: city?.slug, prepared }
  } catch (err) {
    release()
    throw err
  }
}

/** Pages of rows already read and suppressed as a whole: each row carries its `position` in the list. */
export const pagesOf = <R extends { position: number }>(rows: R[]) =>
  async (_db: unknown, after: { position: number } | undefined, limit: number): Promise<R[]> => {
    const start = after === undefined ? 0 : after.position + 1
    return rows.slice(start, start + limit)
  }

/** Takes an export slot, or refuses with a 503 and Retry-After when every one is taken. Returns its release. */
export function takeExportSlot (database: Database): () => void {
  const taken = running.get(database) ?? 0
  if (taken >= exportCapacity(database)) {
    throw new ProblemError('service_unavailable', 'As many exports as this server runs at once are under way; retry after Retry-After seconds.', {
      headers: { 'retry-after': String(EXPORT_RETRY_AFTER_S) }
    })
  }
  running.set(database, taken + 1)
  let released = false
  return () => {
    if (released) return
    released = true
    running.set(database, (running.get(database) ?? 1) - 1)
  }
}

/** The number of exports running now (for tests and health figures). */
export const runningExports = (database: Database): number => running.get(database) ?? 0

/** The `format` query parameter every export takes. */
export const FormatQuery = (formats: readonly ExportFormat[]) => Type.Optional(Type.Enum(formats as ExportFormat[], {
  description: `The file format. Without it, the Accept header picks one (${formats.map((f) => EXPORT_MEDIA_TYPES[f]).join(', ')}); otherwise ${formats[0] ?? 'csv'}.`
}))

/**
 * The format asked for: `format=` when given, else the first supported media type of the Accept header, in the
 * order of its quality values, else the first format offered.
 */
export function exportFormat (request: FastifyRequest, formats: readonly ExportFormat[], asked: ExportFormat | undefined): ExportFormat {
  if (asked !== undefined) return asked
  const fallback = formats[0] ?? 'csv'
  const accept = request.headers.accept
  if (accept === undefined) return fallback
  const ranges = accept.split(',').map((part, index) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    return { type: type.trim(), q: q === undefined ? 1 : Number(q.slice(2)) || 0, index }
  }).filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.index - b.index)
  for (const range of ranges) {
    const match = formats.find((f) => EXPORT_MEDIA_TYPES[f] === range.type)
    if (match !== undefined) return match
  }
  return fallback
}

/** A file name safe in a Content-Disposition header: lower-case letters, digits, dots and dashes. */
export const fileNameOf = (parts: ReadonlyArray<string | undefined>, format: ExportFormat): string =>
  parts.filter((p): p is string => p !== undefined && p !== '').map((p) => p.toLowerCase().replace(/[^a-z0-9.-]+/g, '-')).join('_') + '.' + EXTENSIONS[format]

export type StreamExportOptions<Row> = ExportSource<Row> & {
  format: ExportFormat
  /** The file name's parts, e.g. the city's slug, the export's name and its dates; joined with underscores. */
  fileName: ReadonlyArray<string | undefined>
  columns: ReadonlyArray<ExportColumn<Row>>
  /** A slot already taken with takeExportSlot (to refuse before other work); one is taken here otherwise. */
  release?: () => void
}

/**
 * Sends an export: takes an export slot (503 + Retry-After when none is free), sets the media type and an
 * attachment file name, and streams the rows. The slot is given back when the stream ends, fails or is
 * destroyed because the client went away.
 */
export function streamExport<Row> (app: FastifyInstance, reply: FastifyReply, options: StreamExportOptions<Row>): FastifyReply {
  const release = options.release ?? takeExportSlot(app.database)
  const stream = Readable.from(exportChunks(app.database, options.format, options.columns, options), { objectMode: false })
  stream.once('close', release)
  const mediaType = EXPORT_MEDIA_TYPES[options.format]
  return reply
    .type(options.format === 'ndjson' ? mediaType : `${mediaType}; charset=utf-8`)
    .header('content-disposition', `attachment; filename="${fileNameOf(options.fileName, options.format)}"`)
    .send(stream)
}

/** The response schema of a 200 export: a file in each format, documented for the OpenAPI description. */
export function exportResponse (formats: readonly ExportFormat[], description: string): Record<string, unknown> {
  const content: Record<string, unknown> = {}
  for (const format of formats) content[EXPORT_MEDIA_TYPES[format]] = { schema: { type: 'string', maxLength: Number.MAX_SAFE_INTEGER, description: `${format.toUpperCase()} file, streamed: its length is not known in advance.` } }
  return {
    description,
    headers: { 'Content-Disposition': { type: 'string', maxLength: 200, description: 'attachment; filename="<city>_<export>_<from>_<to>.<ext>"' } },
    content
  }
}

/** A Frictionless Table Schema (https://datapackage.org/standard/table-schema/) describing an export's columns. */
export interface TableSchema {
  $schema: string
  fields: Array<{ name: string, type: string, description: string } & Record<string, unknown>>
  missingValues: string[]
  primaryKey?: string[]
}

/**
 * The Table Schema of an export. An empty cell is a missing value (null); list cells are joined with
 * LIST_DELIMITER in CSV and arrays in NDJSON and JSON.
 */
export function tableSchema<Row> (columns: ReadonlyArray<ExportColumn<Row>>, options: { primaryKey?: string[] } = {}): TableSchema {
  const fields = columns.map((column) => {
    const field: TableSchema['fields'][number] = { name: column.name, type: column.type, description: column.description }
    if (column.type === 'list') Object.assign(field, { delimiter: LIST_DELIMITER, itemType: 'string' })
    const constraints: Record<string, unknown> = {}
    if (column.required === true) constraints.required = true
    if (column.enum !== undefined) constraints.enum = [...column.enum]
    if (Object.keys(constraints).length > 0) field.constraints = constraints
    return field
  })
  return {
    $schema: 'https://datapackage.org/profiles/2.0/tableschema.json',
    fields,
    missingValues: [''],
    ...(options.primaryKey !== undefined ? { primaryKey: options.primaryKey } : {})
  }
}

/** The response schema of a Table Schema document. */
export const TableSchemaResponse = Type.Object({
  $schema: Type.String({ maxLength: 200 }),
  fields: Type.Array(Type.Object({
    name: Type.String({ maxLength: 200 }),
    type: Type.String({ maxLength: 20 }),
    description: Type.String({ maxLength: 2000 })
  }, { additionalProperties: true }), { maxItems: 1000 }),
  missingValues: Type.Array(Type.String({ maxLength: 10 }), { maxItems: 10 }),
  primaryKey: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 10 }))
}, { description: 'A Frictionless Table Schema (v2) of the export\'s columns.' })
