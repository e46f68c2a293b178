import Type, { type Static } from 'typebox'
import { KPI_DIRECTIONS, KPI_METHODS, KPI_PERIODS, KPI_UNITS } from '../../../db/schema/index.js'
import { Int, Nullable, OrNull, PageQuery, Timestamp, TranslatedText, Uuid } from '../../../lib/schemas.js'
import { METRIC_NAMES } from './metrics.js'
import { PERIOD_PATTERN } from './periods.js'

/** The most targets one KPI keeps: fifty years of months. */
export const MAX_TARGETS = 600
/** The most periods one series answers: fifty years of months. */
export const MAX_SERIES_POINTS = 600

/** A value, target or baseline: finite and bounded, so that sums of them stay exact enough in JSON. */
const Value = (options: object = {}) => Type.Number({ minimum: -1e15, maximum: 1e15, ...options })
export const PeriodText = (options: object = {}) => Type.String({ pattern: PERIOD_PATTERN, maxLength: 7, ...options })

const fields = {
  code: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]*$', minLength: 1, maxLength: 64, description: 'Unique in the city: lowercase letters, digits, `_`, `.`, `-`.' }),
  name: TranslatedText(200),
  description: TranslatedText(2000),
  unit: Type.Enum(KPI_UNITS, { description: 'count, percent, rate_per_100k, currency, score or days; a computed KPI takes one its metric allows.' }),
  direction: Type.Enum(KPI_DIRECTIONS, { description: 'Whether the KPI improves as it increases or as it decreases.' }),
  period: Type.Enum(KPI_PERIODS, { description: 'The period the KPI is tracked by: month, quarter or year (calendar periods in the city\'s timezone).' }),
  baseline: Type.Object({
    value: Value(),
    period: PeriodText({ description: 'The period the baseline was measured in: `2025`, `2025-Q4` or `2025-12`.' })
  }, { additionalProperties: false }),
  targets: Type.Record(Type.String({ pattern: PERIOD_PATTERN, maxLength: 7 }), Value(), {
    maxProperties: MAX_TARGETS,
    description: 'Targets keyed by period (`{"2026-Q1": 12, "2026": 50}`); a series point takes the target of its own period.'
  }),
  method: Type.Enum(KPI_METHODS, { description: 'manual: values entered with PUT /v1/kpis/{id}/measurements/{period}; computed: from a metric of the catalog.' }),
  metric: Type.Enum(METRIC_NAMES, { description: 'The metric of a computed KPI (GET /v1/kpis/metrics lists them with their parameters).' }),
  parameters: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 20, description: 'The metric\'s parameters, as its schema in the catalog says.' })
}

export const KpiInputSchema = Type.Object({
  code: fields.code,
  name: fields.name,
  description: Type.Optional(Nullable(fields.description)),
  unit: fields.unit,
  direction: fields.direction,
  period: fields.period,
  baseline: Type.Optional(Nullable(fields.baseline)),
  targets: Type.Optional(fields.targets),
  method: fields.method,
  metric: Type.Optional(Nullable(fields.metric)),
  parameters: Type.Optional(fields.parameters)
}, { $id: 'KpiInput', additionalProperties: false, description: 'A key performance indicator: what is measured, by which period, against which targets.' })

export const KpiPatchSchema = Type.Object({
  code: Type.Optional(fields.code),
  name: Type.Optional(fields.name),
  description: Type.Optional(Nullable(fields.description)),
  unit: Type.Optional(fields.unit),
  direction: Type.Optional(fields.direction),
  period: Type.Optional(fields.period),
  baseline: Type.Optional(Nullable(fields.baseline)),
  targets: Type.Optional(Nullable(Type.Record(Type.String({ pattern: PERIOD_PATTERN, maxLength: 7 }), Nullable(Value()), { maxProperties: MAX_TARGETS }))),
  metric: Type.Optional(fields.metric),
  parameters: Type.Optional(Nullable(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 20 })))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: 'A JSON Merge Patch (RFC 7396): only the fields given change; null removes the description or the baseline, a target set to ' +
    'null is removed. The method cannot change: define a new KPI. A manual KPI with values cannot change its period.'
})

export const KpiSchema = Type.Object({
  id: Uuid(),
  code: Type.String({ maxLength: 64 }),
  name: fields.name,
  description: OrNull(fields.description),
  unit: fields.unit,
  direction: fields.direction,
  period: fields.period,
  baseline: OrNull(fields.baseline),
  targets: fields.targets,
  method: fields.method,
  metric: OrNull(fields.metric),
  parameters: fields.parameters,
  version: Int({ minimum: 1, maximum: 2147483647 }),
  created_at: Timestamp(),
  updated_at: Timestamp()
}, { $id: 'Kpi', additionalProperties: false })

export const KpiListQuery = Type.Object({
  ...PageQuery,
  method: Type.Optional(fields.method)
}, { additionalProperties: false })

const Numeric = OrNull(Type.Number())

export const SeriesPointSchema = Type.Object({
  period: Type.String({ maxLength: 7, description: '`2026-03`, `2026-Q1` or `2026`.' }),
  period_start: Type.String({ format: 'date', maxLength: 10 }),
  period_end: Type.String({ format: 'date', maxLength: 10 }),
  value: Numeric,
  numerator: Numeric,
  denominator: Numeric,
  target: Numeric,
  status: OrNull(Type.Enum(['on_track', 'off_track', 'no_target'], { description: 'Against the period\'s target; null when the value is null or suppressed.' })),
  suppressed: Type.Boolean({ description: 'The value rests on a count below the city\'s small-cell threshold, or would give one back: value, numerator, denominator and status are withheld.' }),
  reason: OrNull(Type.Enum(['population_missing', 'no_measurement', 'empty_denominator'], { description: 'Why the value is null when it is not suppressed.' }))
}, { $id: 'KpiSeriesPoint', additionalProperties: false })

export const SeriesQuery = Type.Object({
  from: Type.Optional(PeriodText({ description: 'The first period (any length: `2025`, `2025-Q2`, `2025-04`); default eleven periods before `to`.' })),
  to: Type.Optional(PeriodText({ description: 'The last period; default the current one, in the city\'s timezone.' })),
  period: Type.Optional(fields.period)
}, { additionalProperties: false })

export const SeriesSchema = Type.Object({
  kpi_id: Uuid(),
  code: Type.String({ maxLength: 64 }),
  unit: fields.unit,
  direction: fields.direction,
  period: fields.period,
  baseline: OrNull(fields.baseline),
  small_cell_threshold: Int({ minimum: 1, maximum: 100 }),
  data: Type.Array(Type.Unsafe<Static<typeof SeriesPointSchema>>({ $ref: 'KpiSeriesPoint#' }), { maxItems: MAX_SERIES_POINTS })
}, { additionalProperties: false })

export const SummaryItemSchema = Type.Object({
  kpi_id: Uuid(),
  code: Type.String({ maxLength: 64 }),
  name: fields.name,
  unit: fields.unit,
  direction: fields.direction,
  baseline: OrNull(fields.baseline),
  latest: OrNull(Type.Unsafe<Static<typeof SeriesPointSchema>>({ $ref: 'KpiSeriesPoint#' }))
}, { additionalProperties: false })

export const SummarySchema = Type.Object({
  data: Type.Array(SummaryItemSchema, { maxItems: 1000 })
}, { additionalProperties: false })

export const MeasurementParams = Type.Object({ id: Uuid(), period: PeriodText() }, { additionalProperties: false })

export const MeasurementInputSchema = Type.Object({
  value: Value(),
  numerator: Type.Optional(Nullable(Value())),
  denominator: Type.Optional(Nullable(Value()))
}, { additionalProperties: false, description: 'A manual KPI\'s value for one period, with the numerator and denominator it rests on if any.' })

export const MeasurementSchema = Type.Object({
  kpi_id: Uuid(),
  period: Type.String({ maxLength: 7 }),
  period_start: Type.String({ format: 'date', maxLength: 10 }),
  value: Type.Number(),
  numerator: Numeric,
  denominator: Numeric,
  updated_at: Timestamp()
}, { additionalProperties: false })

export const MetricCatalogSchema = Type.Object({
  data: Type.Array(Type.Object({
    metric: Type.String({ maxLength: 64 }),
    description: Type.String({ maxLength: 2000 }),
    kind: Type.Enum(['count', 'rate', 'share', 'mean', 'stock', 'stock_share'], { description: 'How its numbers roll up into a coarser period: count (sum), rate and share and mean (recomputed from the sums), stock and stock_share (as at the period\'s end).' }),
    units: Type.Array(fields.unit, { maxItems: 6 }),
    suppressed_below_threshold: Type.Boolean(),
    parameters: Type.Unknown({ description: 'The JSON Schema of the metric\'s parameters.' })
  }, { additionalProperties: false }), { maxItems: 100 })
}, { additionalProperties: false })

export type KpiInput = Static<typeof KpiInputSchema>
export type KpiPatch = Static<typeof KpiPatchSchema>
export type Kpi = Static<typeof KpiSchema>
export type SeriesPointWire = Static<typeof SeriesPointSchema>
export type MeasurementInput = Static<typeof MeasurementInputSchema>
