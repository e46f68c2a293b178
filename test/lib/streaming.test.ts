import { sql } from 'drizzle-orm'
import { parse } from 'csv-parse/sync'
import type { FastifyRequest } from 'fastify'
import type pg from 'pg'
import t from 'tap'
import { query } from '../../src/db/client.js'
import { copyStatement, crlfLineEnds, csvLines, exportCapacity, exportChunks, exportFormat, fileNameOf, neutraliseFormula, runningExports, tableSchema, takeExportSlot, type ExportColumn, type ExportFormat } from '../../src/lib/streaming.js'
import { freshDatabase } from '../helper.js'

const { database } = await freshDatabase(t)
t.teardown(async () => { await database.close() })
const db = database.db

interface NumberRow { n: number, label: string, tags: string | string[] }
const COLUMNS: Array<ExportColumn<NumberRow>> = [
  { name: 'n', type: 'integer', required: true, description: 'A number.', value: (r) => r.n },
  { name: 'label', type: 'string', description: 'A label.', value: (r) => r.label },
  { name: 'tags', type: 'list', description: 'Tags.', value: (r) => r.tags }
]

/** The numbers 1..total from a real query, ascending, counting how often the statement is built (once per page on PGlite). */
function numbers (total: number) {
  let statements = 0
  const select = (after: NumberRow | undefined) => {
    statements++
    return sql`SELECT g AS n, '-' || g AS label, array_to_string(ARRAY['a', 'b' || g], ';') AS tags FROM generate_series(1, ${total}::int) AS g
      WHERE g > ${after?.n ?? 0}::int ORDER BY g`
  }
  return { source: { select }, statements: () => statements }
}

const pool = (): pg.Pool | undefined => database.driver === 'pg' ? (db as unknown as { $client: pg.Pool }).$client : undefined

/** The whole export as text; bytes are joined before decoding, since a chunk may end inside a character. */
async function collect (chunks: AsyncGenerator<string | Buffer>): Promise<string> {
  const parts: Buffer[] = []
  for await (const chunk of chunks) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(parts).toString('utf8')
}

t.test('neutraliseFormula quotes exactly the cells beginning with = + - @ tab or carriage return', async (t) => {
  for (const cell of ['=1+1', '+1', '-1', '@A1', '\t=1', '\r=1']) t.equal(neutraliseFormula(cell), `'${cell}`, JSON.stringify(cell))
  for (const cell of ['', 'a=1', ' =1', '1-2', "'=1", 'Ünïcode']) t.equal(neutraliseFormula(cell), cell, JSON.stringify(cell))
})

t.test('csvLines writes RFC 4180 CSV that a real parser reads back, neutralising text cells only', async (t) => {
  const text = csvLines([['=cmd|"/c calc"!A0', -5, 2.5, true, null, ['x', '-y'], 'line\nbreak, "quoted"']])
  const [row] = parse(text) as string[][]
  t.same(row, ['\'=cmd|"/c calc"!A0', '-5', '2.5', 'true', '', 'x;-y', 'line\nbreak, "quoted"'])
  t.ok(text.endsWith('\r\n'), 'CRLF line ends')
})

t.test('exportChunks reads every row once across batches, in each format, and reads a batch only when asked', async (t) => {
  const total = 2503
  for (const format of ['csv', 'ndjson', 'json'] as ExportFormat[]) {
    const source = numbers(total)
    const text = await collect(exportChunks(database, format, COLUMNS, source.source, 500))
    t.equal(source.statements(), database.driver === 'pg' ? 1 : 6, `${format}: ${database.driver === 'pg' ? 'one cursor' : 'five full pages and a short one'}`)
    const values = format === 'csv'
      ? (parse(text, { columns: true }) as Array<Record<string, string>>).map((r) => Number(r.n))
      : format === 'ndjson' ? text.trim().split('\n').map((l) => JSON.parse(l).n) : JSON.parse(text).map((r: NumberRow) => r.n)
    t.same(values, Array.from({ length: total }, (_, i) => i + 1), `${format}: 1..${total} in order`)
  }
  const csv = parse(await collect(exportChunks(database, 'csv', COLUMNS, numbers(3).source, 500)), { columns: true }) as Array<Record<string, string>>
  t.same(csv[0], { n: '1', label: "'-1", tags: 'a;b1' }, 'CSV cells are neutralised and lists joined')
  const ndjson = JSON.parse((await collect(exportChunks(database, 'ndjson', COLUMNS, numbers(1).source, 500))).trim())
  t.same(ndjson, { n: 1, label: '-1', tags: ['a', 'b1'] }, 'NDJSON keeps text as it is and lists as arrays')
  t.same(JSON.parse(await collect(exportChunks(database, 'json', COLUMNS, numbers(0).source, 500))), [], 'an empty JSON export is an empty array')
  t.equal(await collect(exportChunks(database, 'csv', COLUMNS, numbers(0).source, 500)), 'n,label,tags\r\n', 'an empty CSV export is its header')
  const paged = await collect(exportChunks(database, 'ndjson', COLUMNS, { readPage: async (_db, after: NumberRow | undefined, limit) => Array.from({ length: Math.max(0, Math.min(limit, 7 - (after?.n ?? 0))) }, (_, i) => ({ n: (after?.n ?? 0) + i + 1, label: 'x', tags: [] })) }, 3))
  t.same(paged.trim().split('\n').map((l) => JSON.parse(l).n), [1, 2, 3, 4, 5, 6, 7], 'a source with pages of its own')
})

t.test('a consumer that stops stops the reading, and the connection goes back', async (t) => {
  const lazy = numbers(100_000)
  const chunks = exportChunks(database, 'csv', COLUMNS, lazy.source, 1000)
  await chunks.next() // the header
  await chunks.next()
  await chunks.next()
  if (database.driver === 'pglite') t.equal(lazy.statements(), 2, 'two pages taken, two pages read: the consumer sets the pace')
  const p = pool()
  if (p !== undefined) {
    const [session] = await query<{ state: string, xid: string | null }>(db, sql`SELECT state, backend_xid::text AS xid FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'FETCH%'`)
    t.equal(session?.state, 'idle in transaction', 'the cursor waits, in its transaction, for the consumer')
    t.equal(session?.xid, null, 'its transaction has no transaction id: it holds back no change feed')
    t.equal(p.idleCount, p.totalCount - 1, 'it holds one connection')
  }
  await chunks.return(undefined)
  if (database.driver === 'pglite') t.equal(lazy.statements(), 2, 'nothing more is read once the consumer stops')
  if (p !== undefined) {
    t.equal(p.idleCount, p.totalCount, 'the connection is back in the pool')
    const open = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`)
    t.equal(open[0]?.n, 0, 'and its transaction has ended')
  }
})

t.test('a failing read fails the export and gives its connection back broken, never to another request', async (t) => {
  const failing = {
    select: (after: NumberRow | undefined) => sql`SELECT 1 / (g - 3) AS n, 'x' AS label, '' AS tags FROM generate_series(1, 5) AS g
      WHERE g > ${after === undefined ? 0 : 2}::int ORDER BY g`
  }
  const failure = await collect(exportChunks(database, 'csv', COLUMNS, failing, 2)).then(() => null, (err: Error & { cause?: Error }) => err)
  t.match(`${failure?.message} ${failure?.cause?.message}`, /division by zero/, 'the export fails with the database\'s error')
  const [answer] = await query<{ one: number }>(db, sql`SELECT 1 AS one`)
  t.equal(answer?.one, 1, 'the database still answers')
  const p = pool()
  if (p !== undefined) t.equal(p.idleCount, p.totalCount, 'no connection is left checked out')
})

/** 2,500 rows whose cells try the writer: formulas, a quoted line break, an empty text, characters beyond ASCII. */
const tricky = (after: NumberRow | undefined) => sql`SELECT g AS n,
    CASE g % 5 WHEN 0 THEN '=SUM(A1)' WHEN 1 THEN 'two' || chr(10) || 'lines, "quoted"' WHEN 2 THEN '' WHEN 3 THEN 'Ünïcødé ' || g ELSE '-' || g END AS label,
    array_to_string(ARRAY['@b' || g, 'a'], ';') AS tags
  FROM generate_series(1, 2500) AS g WHERE g > ${after?.n ?? 0}::int ORDER BY g`

t.test('a query whose columns are the export\'s is written as the same CSV, with CRLF line ends, whoever writes it', async (t) => {
  const copied = await collect(exportChunks(database, 'csv', COLUMNS, { select: tricky, asSelected: true }, 1000))
  const written = await collect(exportChunks(database, 'csv', COLUMNS, { select: tricky }, 1000))
  const rows = parse(copied) as string[][]
  t.same(rows, parse(written) as string[][], 'the same cells as the rows written one by one')
  t.equal(rows.length, 2501, 'the header and every row')
  t.same(rows[0], ['n', 'label', 'tags'])
  t.same(rows[1], ['1', 'two\nlines, "quoted"', "'@b1;a"], 'a line break inside a quoted cell is the cell\'s; a text cell beginning with @ is neutralised')
  t.same(rows[5], ['5', "'=SUM(A1)", "'@b5;a"])
  t.same(rows[4], ['4', "'-4", "'@b4;a"])
  t.same(rows[3], ['3', 'Ünïcødé 3', "'@b3;a"], 'characters beyond ASCII arrive whole')
  t.equal(copied.split('\r\n').length, 2502, 'every line ends with CRLF')
  t.notOk(/[^\r]\n(?!lines)/.test(copied), 'no bare LF but inside the quoted cell')
})

t.test('crlfLineEnds ends lines with CRLF outside quotes, across chunks cut anywhere', async (t) => {
  const ends = crlfLineEnds()
  const out = Buffer.concat(['a,"b\n', 'c"\nd,', '"""', '"\n', 'e\n'].map((part) => ends(Buffer.from(part)))).toString()
  t.equal(out, 'a,"b\nc"\r\nd,""""\r\ne\r\n')
})

t.test('a COPY statement takes only plain values into its text, and only column names fit for SQL', async (t) => {
  t.throws(() => copyStatement(sql`SELECT ${'a\\b'} AS n`, COLUMNS), /backslash/)
  t.throws(() => copyStatement(sql`SELECT 1 AS n`, [{ ...COLUMNS[0], name: 'n"; DROP' } as ExportColumn<NumberRow>]), /cannot be written/)
  t.match(copyStatement(sql`SELECT ${"o'k"} AS label`, COLUMNS), /'o''k'/)
})

t.test('a COPY consumer that stops gets its connection closed, never given to another request', async (t) => {
  const p = pool()
  const big = (after: NumberRow | undefined) => sql`SELECT g AS n, repeat('x', 200) AS label, '' AS tags FROM generate_series(1, 200000) AS g
    WHERE g > ${after?.n ?? 0}::int ORDER BY g`
  const chunks = exportChunks(database, 'csv', COLUMNS, { select: big, asSelected: true })
  await chunks.next()
  if (p !== undefined) t.equal(p.totalCount - p.idleCount, 1, 'the COPY holds one connection')
  await chunks.return(undefined)
  if (p !== undefined) t.equal(p.idleCount, p.totalCount, 'nothing is left checked out')
  const copying = async (): Promise<number> => (await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'COPY%'`))[0]?.n ?? -1
  if (p !== undefined) {
    for (let i = 0; i < 100 && await copying() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    t.equal(await copying(), 0, 'the COPY\'s session has ended')
  }
  const [answer] = await query<{ one: number }>(db, sql`SELECT 1 AS one`)
  t.equal(answer?.one, 1, 'the database still answers')
})

t.test('exportFormat: format= first, then the Accept header by quality, then the first format offered', async (t) => {
  const request = (accept?: string) => ({ headers: accept === undefined ? {} : { accept } }) as unknown as FastifyRequest
  const offered: ExportFormat[] = ['csv', 'ndjson', 'json']
  t.equal(exportFormat(request('application/x-ndjson'), offered, 'json'), 'json')
  t.equal(exportFormat(request('text/csv'), offered, undefined), 'csv')
  t.equal(exportFormat(request('application/x-ndjson'), offered, undefined), 'ndjson')
  t.equal(exportFormat(request('text/csv;q=0.2, application/json;q=0.9'), offered, undefined), 'json')
  t.equal(exportFormat(request('application/json;q=0, text/html'), offered, undefined), 'csv')
  t.equal(exportFormat(request('application/json'), ['csv', 'ndjson'], undefined), 'csv', 'a format not offered is not chosen')
  t.equal(exportFormat(request(), ['ndjson', 'csv'], undefined), 'ndjson')
})

t.test('export slots: at most exportCapacity at once, each released once', async (t) => {
  const capacity = exportCapacity(database)
  t.ok(capacity >= 1)
  if (database.driver === 'pg') t.ok(capacity < 5, 'below the pool size of 5')
  const releases = Array.from({ length: capacity }, () => takeExportSlot(database))
  t.equal(runningExports(database), capacity)
  t.throws(() => takeExportSlot(database), { code: 'service_unavailable', status: 503, headers: { 'retry-after': '30' } })
  releases[0]?.()
  releases[0]?.()
  t.equal(runningExports(database), capacity - 1, 'releasing twice gives back one slot')
  const again = takeExportSlot(database)
  for (const release of [again, ...releases]) release()
  t.equal(runningExports(database), 0)
})

t.test('tableSchema describes every column with missing values declared; file names are header-safe', async (t) => {
  const schema = tableSchema(COLUMNS)
  t.same(schema.fields.map((f) => [f.name, f.type]), [['n', 'integer'], ['label', 'string'], ['tags', 'list']])
  t.same(schema.missingValues, [''])
  t.match(schema.fields[2], { delimiter: ';', itemType: 'string' })
  t.same(schema.fields[0]?.constraints, { required: true })
  t.equal(fileNameOf(['Stamford', 'incidents', '2024-01-01', undefined, 'x"y z'], 'csv'), 'stamford_incidents_2024-01-01_x-y-z.csv')
})
