import { sql } from 'drizzle-orm'
import { check, integer, pgTable, text, uuid, varchar, char } from 'drizzle-orm/pg-core'
import { createdAt, updatedAt } from './columns.js'

/** The tenant: every other row belongs to exactly one city. */
export const cities = pgTable('cities', {
  id: uuid('id').primaryKey(),
  slug: varchar('slug', { length: 64 }).notNull().unique(),
  name: varchar('name', { length: 200 }).notNull(),
  state: char('state', { length: 2 }),
  population: integer('population'),
  timezone: varchar('timezone', { length: 64 }).notNull().default('America/New_York'),
  defaultLanguage: varchar('default_language', { length: 35 }).notNull().default('en'),
  languages: text('languages').array().notNull().default(sql`'{en}'::text[]`),
  smallCellThreshold: integer('small_cell_threshold').notNull().default(10),
  version: integer('version').notNull().default(1),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  check('cities_small_cell_threshold_range', sql`${t.smallCellThreshold} BETWEEN 1 AND 100`),
  check('cities_population_range', sql`${t.population} >= 0`)
])
