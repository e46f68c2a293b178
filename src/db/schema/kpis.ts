import { sql } from 'drizzle-orm'
import { check, date, foreignKey, integer, jsonb, numeric, pgTable, primaryKey, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core'
import { cities } from './cities.js'
import { cityId, createdAt, updatedAt } from './columns.js'

export const KPI_UNITS = ['count', 'percent', 'rate_per_100k', 'currency', 'score', 'days'] as const
export const KPI_DIRECTIONS = ['increase', 'decrease'] as const
export const KPI_PERIODS = ['month', 'quarter', 'year'] as const
export const KPI_METHODS = ['manual', 'computed'] as const

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ')

/**
 * The city's key performance indicators, defined once the way DHIS2 and IATI define them: what is counted
 * (a metric of the catalog in routes/v1/kpis/metrics.ts, or values entered by hand), its unit and direction,
 * the period it is tracked by, a baseline and a target per period. Targets are kept as one JSON object keyed
 * by period (`{"2026-Q1": 12}`): they are read and written with the KPI, never queried on their own.
 */
export const kpis = pgTable('kpis', {
  cityId: cityId().references(() => cities.id),
  id: uuid('id').notNull(),
  code: varchar('code', { length: 64 }).notNull(),
  name: jsonb('name').$type<Record<string, string>>().notNull(),
  description: jsonb('description').$type<Record<string, string>>(),
  unit: varchar('unit', { length: 16 }).notNull(),
  direction: varchar('direction', { length: 16 }).notNull(),
  period: varchar('period', { length: 16 }).notNull(),
  baselineValue: numeric('baseline_value', { mode: 'number' }),
  baselinePeriod: varchar('baseline_period', { length: 7 }),
  targets: jsonb('targets').$type<Record<string, number>>().notNull().default(sql`'{}'::jsonb`),
  method: varchar('method', { length: 16 }).notNull(),
  metric: varchar('metric', { length: 64 }),
  parameters: jsonb('parameters').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  version: integer('version').notNull().default(1),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.id] }),
  uniqueIndex('kpis_code_idx').on(t.cityId, t.code),
  check('kpis_unit_check', sql.raw(`unit IN (${inList(KPI_UNITS)})`)),
  check('kpis_direction_check', sql.raw(`direction IN (${inList(KPI_DIRECTIONS)})`)),
  check('kpis_period_check', sql.raw(`period IN (${inList(KPI_PERIODS)})`)),
  check('kpis_method_check', sql.raw(`method IN (${inList(KPI_METHODS)})`)),
  check('kpis_metric_check', sql`(${t.method} = 'computed') = (${t.metric} IS NOT NULL)`),
  check('kpis_baseline_check', sql`(${t.baselineValue} IS NULL) = (${t.baselinePeriod} IS NULL)`)
])

/** The values of a manual KPI, one per period of the KPI's own length (`2026-03`, `2026-Q1`, `2026`). */
export const kpiMeasurements = pgTable('kpi_measurements', {
  cityId: cityId(),
  kpiId: uuid('kpi_id').notNull(),
  period: varchar('period', { length: 7 }).notNull(),
  periodStart: date('period_start', { mode: 'string' }).notNull(),
  value: numeric('value', { mode: 'number' }).notNull(),
  numerator: numeric('numerator', { mode: 'number' }),
  denominator: numeric('denominator', { mode: 'number' }),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  primaryKey({ columns: [t.cityId, t.kpiId, t.period] }),
  foreignKey({ columns: [t.cityId, t.kpiId], foreignColumns: [kpis.cityId, kpis.id] }).onDelete('cascade'),
  check('kpi_measurements_period_check', sql`${t.period} ~ '^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$'`)
])
