import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { query, textArrayLiteral } from '../../src/db/client.js'
import { freshDatabase } from '../helper.js'

t.test('a text[] literal reads back as the values it was made of, through the database itself', async (t) => {
  const { database } = await freshDatabase(t)
  t.teardown(async () => { await database.close() })
  const readBack = async (literal: string): Promise<Array<string | null>> =>
    (await query<{ a: Array<string | null> }>(database.db, sql`SELECT ${literal}::text[] AS a`))[0]?.a ?? []

  const awkward = ['plain', 'with "quotes"', 'back\\slash', '{braces}, commas', 'NULL', '', ' spaces ', 'é ✓', null]
  t.same(await readBack(textArrayLiteral(awkward)), awkward, 'quotes, backslashes, braces, the word NULL, empty and null all survive')

  // Plain columns (hex, ISO instants) are not searched for quotes: they cannot hold one.
  const plain = [randomBytes(300).toString('hex'), new Date('2025-11-26T02:55:46.853Z').toISOString(), null]
  const literal = textArrayLiteral(plain, true)
  t.equal(literal, textArrayLiteral(plain), 'for such values, plain makes the same literal')
  t.same(await readBack(literal), plain)
})
