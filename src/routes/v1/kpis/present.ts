import type { KpiRow, MeasurementRow } from './repo.js'
import type { Kpi, KpiInput } from './schema.js'

/** The wire form of a KPI. */
export function toKpi (row: KpiRow): Kpi {
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    description: row.description,
    unit: row.unit as Kpi['unit'],
    direction: row.direction as Kpi['direction'],
    period: row.period as Kpi['period'],
    baseline: baselineOf(row),
    targets: row.targets,
    method: row.method as Kpi['method'],
    metric: row.metric as Kpi['metric'],
    parameters: row.parameters,
    version: row.version,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString()
  }
}

export const baselineOf = (row: KpiRow): Kpi['baseline'] =>
  row.baselineValue === null || row.baselinePeriod === null ? null : { value: Number(row.baselineValue), period: row.baselinePeriod }

/** A stored KPI as the input that would produce it, so that a PATCH can be merged into it. */
export function toInput (row: KpiRow): KpiInput {
  const input: KpiInput = {
    code: row.code,
    name: row.name,
    unit: row.unit as KpiInput['unit'],
    direction: row.direction as KpiInput['direction'],
    period: row.period as KpiInput['period'],
    targets: row.targets,
    method: row.method as KpiInput['method'],
    parameters: row.parameters
  }
  if (row.description !== null) input.description = row.description
  const baseline = baselineOf(row)
  if (baseline !== null) input.baseline = baseline
  if (row.metric !== null) input.metric = row.metric as KpiInput['metric']
  return input
}

export function toMeasurement (row: MeasurementRow) {
  return {
    kpi_id: row.kpiId,
    period: row.period,
    period_start: row.periodStart,
    value: row.value,
    numerator: row.numerator,
    denominator: row.denominator,
    updated_at: row.updatedAt.toISOString()
  }
}
