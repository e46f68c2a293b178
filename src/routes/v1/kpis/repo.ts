import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm'
import { query, type Executor } from '../../../db/client.js'
import { kpiMeasurements, kpis } from '../../../db/schema/index.js'
import type { FieldError } from '../../../lib/problems.js'
import { recordsOfCity } from '../../../lib/references.js'
import { metricOf } from './metrics.js'
import { monthsOf, type PeriodLength } from './periods.js'
import type { KpiDraft } from './rules.js'
import type { RawPoint } from './series.js'

export type KpiRow = typeof kpis.$inferSelect
export type MeasurementRow = typeof kpiMeasurements.$inferSelect

const draftColumns = (d: KpiDraft) => ({
  code: d.code,
  name: d.name,
  description: d.description,
  unit: d.unit,
  direction: d.direction,
  period: d.period,
  baselineValue: d.baselineValue,
  baselinePeriod: d.baselinePeriod,
  targets: d.targets,
  method: d.method,
  metric: d.metric,
  parameters: d.parameters
})

export async function getKpi (db: Executor, cityId: string, id: string): Promise<KpiRow | undefined> {
  const [row] = await db.select().from(kpis).where(and(eq(kpis.cityId, cityId), eq(kpis.id, id)))
  return row
}

export async function kpiIdByCode (db: Executor, cityId: string, code: string): Promise<string | undefined> {
  const [row] = await db.select({ id: kpis.id }).from(kpis).where(and(eq(kpis.cityId, cityId), eq(kpis.code, code)))
  return row?.id
}

/** Inserts a KPI; undefined when its code is already taken in the city. */
export async function insertKpi (db: Executor, cityId: string, id: string, draft: KpiDraft): Promise<KpiRow | undefined> {
  const [row] = await db.insert(kpis).values({ cityId, id, ...draftColumns(draft) }).onConflictDoNothing({ target: [kpis.cityId, kpis.code] }).returning()
  return row
}

/** Rewrites a KPI after a PATCH, if it is still at `version`. */
export async function updateKpi (db: Executor, cityId: string, id: string, version: number, draft: KpiDraft): Promise<KpiRow | undefined> {
  const [row] = await db.update(kpis).set({ ...draftColumns(draft), version: sql`${kpis.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(kpis.cityId, cityId), eq(kpis.id, id), eq(kpis.version, version))).returning()
  return row
}

/** Deletes a KPI and its values (ON DELETE CASCADE). */
export async function deleteKpi (db: Executor, cityId: string, id: string): Promise<boolean> {
  const deleted = await db.delete(kpis).where(and(eq(kpis.cityId, cityId), eq(kpis.id, id))).returning({ id: kpis.id })
  return deleted.length === 1
}

/**
 * Checks the records the KPIs of a request name in their parameters (a survey, an action plan), all at once:
 * one statement whatever the number of KPIs. A record the city does not have, missing or another city's, is
 * the same problem. Returns each KPI's problems (paths relative to the KPI), or null.
 */
export async function kpiReferenceProblems (db: Executor, cityId: string, drafts: readonly KpiDraft[]): Promise<Array<FieldError[] | null>> {
  const named = drafts.map((draft) => (metricOf(draft.metric)?.references ?? []).flatMap((reference) => {
    const id = draft.parameters[reference.parameter]
    return typeof id === 'string' ? [{ reference, id: id.toLowerCase() }] : []
  }))
  const wanted = new Map<string, Set<string>>()
  for (const { reference, id } of named.flat()) {
    const ids = wanted.get(reference.table) ?? new Set<string>()
    wanted.set(reference.table, ids.add(id))
  }
  const found = await recordsOfCity(db, cityId, wanted)
  return named.map((references) => {
    const problems = references.filter(({ reference, id }) => found.get(reference.table)?.has(id) !== true)
      .map(({ reference }) => ({ path: `/parameters/${reference.parameter}`, message: `is not ${reference.what} of this city` }))
    return problems.length > 0 ? problems : null
  })
}

/** A page of KPIs by code. */
export async function listKpis (db: Executor, cityId: string, filter: { method?: string, limit: number }, afterCode?: string): Promise<KpiRow[]> {
  return await db.select().from(kpis).where(and(
    eq(kpis.cityId, cityId),
    filter.method !== undefined ? eq(kpis.method, filter.method) : undefined,
    afterCode !== undefined ? gt(kpis.code, afterCode) : undefined
  )).orderBy(asc(kpis.code)).limit(filter.limit + 1)
}

/** Every KPI of the city, by code: for the summary and the export (a city keeps tens of them). */
export async function allKpis (db: Executor, cityId: string): Promise<KpiRow[]> {
  return await db.select().from(kpis).where(eq(kpis.cityId, cityId)).orderBy(asc(kpis.code)).limit(1000)
}

/** Whether a manual KPI has values recorded. */
export async function hasMeasurements (db: Executor, cityId: string, kpiId: string): Promise<boolean> {
  const [row] = await db.select({ period: kpiMeasurements.period }).from(kpiMeasurements)
    .where(and(eq(kpiMeasurements.cityId, cityId), eq(kpiMeasurements.kpiId, kpiId))).limit(1)
  return row !== undefined
}

/** Writes a manual value for a period; `created` tells an insert from an update. */
export async function upsertMeasurement (db: Executor, cityId: string, row: { kpiId: string, period: string, periodStart: string, value: number, numerator: number | null, denominator: number | null }): Promise<MeasurementRow & { created: boolean }> {
  const [written] = await query<Record<string, unknown>>(db, sql`
    INSERT INTO kpi_measurements (city_id, kpi_id, period, period_start, value, numerator, denominator)
    VALUES (${cityId}::uuid, ${row.kpiId}::uuid, ${row.period}, ${row.periodStart}::date, ${row.value}, ${row.numerator}, ${row.denominator})
    ON CONFLICT (city_id, kpi_id, period) DO UPDATE SET value = excluded.value, numerator = excluded.numerator,
      denominator = excluded.denominator, updated_at = now()
    RETURNING kpi_id, period, period_start::text AS period_start, value::float8 AS value, numerator::float8 AS numerator,
      denominator::float8 AS denominator, created_at, updated_at, (xmax = 0) AS created`)
  if (written === undefined) throw new Error('The upsert returned no row.')
  return {
    cityId,
    kpiId: written.kpi_id as string,
    period: written.period as string,
    periodStart: written.period_start as string,
    value: Number(written.value),
    numerator: written.numerator === null ? null : Number(written.numerator),
    denominator: written.denominator === null ? null : Number(written.denominator),
    createdAt: new Date(written.created_at as string),
    updatedAt: new Date(written.updated_at as string),
    created: written.created === true
  }
}

/** One KPI's part of a series query, with the range of its own periods to compute. */
export interface SeriesPart {
  kpi: KpiRow
  /** First and last day, YYYY-MM-DD; whole periods of the KPI's own length. */
  from: string
  to: string
}

/**
 * The numbers of every period of the KPIs' own lengths over their ranges, for one KPI or many, in one SQL
 * statement: for each KPI a generate_series of its periods LEFT JOINed to its metric's counts (or to its
 * manual values), all of them UNION ALL.
 */
export async function seriesNumbers (db: Executor, cityId: string, parts: readonly SeriesPart[]): Promise<Map<string, RawPoint[]>> {
  const out = new Map<string, RawPoint[]>(parts.map((part) => [part.kpi.id, []]))
  if (parts.length === 0) return out
  const selects = parts.map((part) => partSql(cityId, part))
  const rows = await query<{ kpi_id: string, period_start: string, numerator: number | string | null, denominator: number | string | null, value: number | string | null }>(db,
    sql`${sql.join(selects, sql` UNION ALL `)} ORDER BY 1, 2`)
  const number = (v: number | string | null): number | null => v === null ? null : Number(v)
  for (const row of rows) {
    out.get(row.kpi_id)?.push({ periodStart: row.period_start, numerator: number(row.numerator), denominator: number(row.denominator), value: number(row.value) })
  }
  return out
}

function periodsOf (length: PeriodLength, from: string, to: string): SQL {
  const step = sql.raw(`interval '${monthsOf(length)} months'`)
  return sql`(SELECT gs::date AS period_start, (gs + ${step} - interval '1 day')::date AS period_end
    FROM generate_series(${from}::date::timestamp, ${to}::date::timestamp, ${step}) gs) p`
}

function partSql (cityId: string, part: SeriesPart): SQL {
  const { kpi, from, to } = part
  const length = kpi.period as PeriodLength
  const head = sql`SELECT ${kpi.id}::uuid AS kpi_id, p.period_start::text AS period_start`
  const metric = metricOf(kpi.metric)
  if (kpi.method === 'manual' || metric === undefined) {
    return sql`(${head}, m.numerator::float8 AS numerator, m.denominator::float8 AS denominator, m.value::float8 AS value
      FROM ${periodsOf(length, from, to)}
      LEFT JOIN kpi_measurements m ON m.city_id = ${cityId}::uuid AND m.kpi_id = ${kpi.id}::uuid AND m.period_start = p.period_start)`
  }
  const q = { cityId, length, from, to, parameters: kpi.parameters }
  const body = metric.sql(q)
  const zero = metric.kind === 'stock' || metric.kind === 'stock_share' ? sql`m.numerator` : sql`coalesce(m.numerator, 0)`
  const denominator = metric.denominator !== undefined
    ? metric.denominator(q)
    : metric.kind === 'share' || metric.kind === 'mean' ? sql`coalesce(m.denominator, 0)` : sql`m.denominator`
  const join = 'bucketed' in body
    ? sql`LEFT JOIN (${body.bucketed}) m ON m.period_start = p.period_start`
    : sql`LEFT JOIN LATERAL (${body.asOf}) m ON true`
  return sql`(${head}, (${zero})::float8 AS numerator, (${denominator})::float8 AS denominator, NULL::float8 AS value FROM ${periodsOf(length, from, to)} ${join})`
}
