import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { fieldErrors, type ValidationIssue } from '../../../lib/validation.js'
import type { FieldError } from '../../../lib/problems.js'
import { METRICS, metricOf, type MetricName } from './metrics.js'
import { parsePeriod } from './periods.js'
import type { KpiInput } from './schema.js'

/** A KPI as it is written: checked against its metric. */
export interface KpiDraft {
  code: string
  name: Record<string, string>
  description: Record<string, string> | null
  unit: string
  direction: string
  period: string
  baselineValue: number | null
  baselinePeriod: string | null
  targets: Record<string, number>
  method: string
  metric: string | null
  parameters: Record<string, unknown>
}

const validators = new Map<string, ReturnType<typeof Compile<TSchema>>>()
const validatorOf = (name: MetricName): ReturnType<typeof Compile<TSchema>> => {
  let validator = validators.get(name)
  if (validator === undefined) {
    validator = Compile(METRICS[name].parameters as TSchema)
    validators.set(name, validator)
  }
  return validator
}

/** Checks what the schema cannot: the metric, its parameters and units, and the periods named. */
export function prepareKpi (input: KpiInput): { draft: KpiDraft, problems: [] } | { draft: null, problems: FieldError[] } {
  const problems: FieldError[] = []
  const metric = input.metric ?? null
  const parameters = input.parameters ?? {}
  if (input.method === 'manual') {
    if (metric !== null) problems.push({ path: '/metric', message: 'must be absent for a manual KPI' })
    if (Object.keys(parameters).length > 0) problems.push({ path: '/parameters', message: 'must be absent for a manual KPI' })
  } else if (metric === null) {
    problems.push({ path: '/metric', message: 'is required for a computed KPI' })
  } else {
    const definition = metricOf(metric)
    if (definition === undefined) {
      problems.push({ path: '/metric', message: 'is not a metric of the catalog' })
    } else {
      if (!definition.units.includes(input.unit as never)) problems.push({ path: '/unit', message: `must be ${definition.units.join(' or ')} for the metric ${metric}` })
      const validator = validatorOf(metric as MetricName)
      if (!validator.Check(parameters)) {
        for (const error of fieldErrors([...validator.Errors(parameters)] as ValidationIssue[], 'parameters')) problems.push(error)
      }
    }
  }
  const baseline = input.baseline ?? null
  if (baseline !== null && parsePeriod(baseline.period) === undefined) problems.push({ path: '/baseline/period', message: 'is not a period from 1900 to 2200' })
  const targets = input.targets ?? {}
  for (const period of Object.keys(targets)) {
    if (parsePeriod(period) === undefined) problems.push({ path: `/targets/${period}`, message: 'is not a period from 1900 to 2200' })
  }
  if (problems.length > 0) return { draft: null, problems }
  return {
    draft: {
      code: input.code,
      name: input.name,
      description: input.description ?? null,
      unit: input.unit,
      direction: input.direction,
      period: input.period,
      baselineValue: baseline?.value ?? null,
      baselinePeriod: baseline?.period ?? null,
      targets,
      method: input.method,
      metric,
      parameters
    },
    problems: []
  }
}
