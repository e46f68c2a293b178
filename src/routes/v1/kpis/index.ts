import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { refuseNaming, type Naming } from '../../../lib/batch.js'
import Type from 'typebox'
import type { Executor } from '../../../db/client.js'
import { actorOf, recordAudit } from '../../../lib/audit.js'
import { etagOf } from '../../../lib/etag.js'
import { newId } from '../../../lib/ids.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { pageOf, textPosition } from '../../../lib/pagination.js'
import { notFound, ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { computeSeries, latestOf, lengthFor, rangeOf, summaryRange } from './compute.js'
import { METRIC_NAMES, METRICS } from './metrics.js'
import { parsePeriod, type PeriodLength } from './periods.js'
import { baselineOf, toInput, toKpi, toMeasurement } from './present.js'
import { allKpis, deleteKpi, getKpi, hasMeasurements, insertKpi, kpiIdByCode, kpiReferenceProblems, listKpis, updateKpi, upsertMeasurement, type KpiRow } from './repo.js'
import { prepareKpi, type KpiDraft } from './rules.js'
import {
  KpiInputSchema, KpiListQuery, KpiPatchSchema, KpiSchema, MeasurementInputSchema, MeasurementParams, MeasurementSchema, MetricCatalogSchema,
  SeriesPointSchema, SeriesQuery, SeriesSchema, SummarySchema, type KpiInput
} from './schema.js'

const TAG = 'kpis'
const KIND = 'kpi'
const LIST = 'kpis'

const inBody = (problems: FieldError[]): FieldError[] => problems.map((p) => ({ ...p, path: `/body${p.path}` }))
const invalid = (problems: FieldError[], detail: string): ProblemError => new ProblemError('validation_failed', detail, { errors: problems })

/**
 * Refuses a KPI whose parameters name a record the city does not have (a survey, an action plan): 422, the same
 * answer for another city's record as for a missing one.
 */
async function refuseUnknownRecords (db: Executor, cityId: string, draft: KpiDraft): Promise<void> {
  const [problems] = await kpiReferenceProblems(db, cityId, [draft])
  if (problems == null) return
  throw new ProblemError('unprocessable', 'The KPI names records this city does not have; errors lists each one.', { errors: inBody(problems) })
}

/** What a KPI's parameters name, and the scope that reads it: a key without it may not name one. */
const KPI_NAMES: readonly Naming[] = [{ scope: 'surveys:read', fields: ['survey_id'] }, { scope: 'plans:read', fields: ['plan_id'] }]

const codeTaken = (holder: string | undefined): ProblemError => new ProblemError('conflict', 'Another KPI of this city has this code.', {
  errors: [{ path: '/body/code', message: `is already used by KPI ${holder ?? ''}`.trim() }]
})

const kpisRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(KpiSchema)
  app.addSchema(KpiInputSchema)
  app.addSchema(SeriesPointSchema)
  const KpiRef = ref(KpiSchema)

  app.post('', {
    schema: {
      operationId: 'createKpi',
      tags: [TAG],
      summary: 'Define a KPI',
      description: 'A computed KPI names a `metric` of the catalog (GET /v1/kpis/metrics) and its `parameters`; a manual one takes values ' +
        'with PUT /v1/kpis/{id}/measurements/{period}. A `code` already used in the city is a 409, which tells of a stored KPI: it needs ' +
        'kpis:read besides kpis:write.',
      security: [{ bearer: ['kpis:write', 'kpis:read'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(KpiInputSchema),
      response: { 201: withEtag(KpiRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    const { cityId } = caller
    refuseNaming(caller, KPI_NAMES, (request.body as KpiInput).parameters, '/body/parameters')
    const prepared = prepareKpi(request.body as KpiInput)
    if (prepared.draft === null) throw invalid(inBody(prepared.problems), 'The KPI is not valid; errors lists each failing path.')
    const draft = prepared.draft
    const payload = await app.db.transaction(async (tx) => {
      await refuseUnknownRecords(tx, cityId, draft)
      const id = newId()
      const row = await insertKpi(tx, cityId, id, draft)
      if (row === undefined) throw codeTaken(await kpiIdByCode(tx, cityId, draft.code))
      await recordAudit(tx, cityId, actorOf(request), { action: `${KIND}.created`, objectType: KIND, objectId: id, details: { method: draft.method, metric: draft.metric } })
      reply.code(201).header('location', `/v1/kpis/${id}`).header('etag', etagOf(id, row.version))
      return await reply.answerWithin(tx, toKpi(row))
    })
    return await reply.send(payload as never)
  })

  app.get('', {
    schema: {
      operationId: 'listKpis',
      tags: [TAG],
      summary: 'List KPIs by code',
      security: [{ bearer: ['kpis:read'] }],
      querystring: KpiListQuery,
      response: { 200: Page(KpiRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId } = callerOf(request)
    const { limit = 50, cursor, method } = request.query
    const after = cursor !== undefined ? textPosition(app.cursors.decode(cityId, LIST, cursor)).key : undefined
    const rows = await listKpis(app.db, cityId, { ...(method === undefined ? {} : { method }), limit }, after)
    const page = pageOf(rows, limit, (row) => [row.code, row.id], (position) => app.cursors.encode(cityId, LIST, position))
    return { data: page.data.map(toKpi), next_cursor: page.next_cursor }
  })

  app.get('/metrics', {
    schema: {
      operationId: 'listKpiMetrics',
      tags: [TAG],
      summary: 'The catalog of metrics a computed KPI can use',
      description: 'Each metric with what it counts, how its numbers roll up (`kind`), the units it allows, whether its counts are suppressed ' +
        'below the city\'s small-cell threshold, and the JSON Schema of its parameters.',
      security: [{ bearer: ['kpis:read'] }],
      response: { 200: MetricCatalogSchema, ...problemResponses(...AUTHENTICATED) }
    }
  }, async () => ({
    data: METRIC_NAMES.map((name) => {
      const metric = METRICS[name]
      return { metric: name, description: metric.description, kind: metric.kind, units: [...metric.units], suppressed_below_threshold: metric.sensitive, parameters: metric.parameters }
    })
  }))

  app.get('/summary', {
    schema: {
      operationId: 'getKpiSummary',
      tags: [TAG],
      summary: 'Every KPI\'s latest value against its target',
      description: 'For a dashboard: for a computed KPI the last complete period of its own length, for a manual one its latest value of the ' +
        'last two years. Values rest on the same suppression as the series. All KPIs are computed in one SQL statement.',
      security: [{ bearer: ['kpis:read'] }],
      response: { 200: SummarySchema, ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const { cityId, city } = callerOf(request)
    const rows = await allKpis(app.db, cityId)
    const series = await computeSeries(app.db, cityId, city.smallCellThreshold, rows.map((kpi) => ({ kpi, range: summaryRange(kpi, city.timezone) })))
    return {
      data: rows.map((kpi) => ({
        kpi_id: kpi.id,
        code: kpi.code,
        name: kpi.name,
        unit: kpi.unit as KpiInput['unit'],
        direction: kpi.direction as KpiInput['direction'],
        baseline: baselineOf(kpi),
        latest: latestOf(kpi, series.get(kpi.id) ?? [])
      }))
    }
  })

  app.get('/:id', {
    schema: {
      operationId: 'getKpi',
      tags: [TAG],
      summary: 'Read a KPI',
      description: 'Answers an `ETag` for `PATCH`.',
      security: [{ bearer: ['kpis:read'] }],
      params: IdParams,
      response: { 200: withEtag(KpiRef), ...problemResponses(...AUTHENTICATED, 404) }
    }
  }, async (request, reply) => {
    const row = await getKpi(app.db, callerOf(request).cityId, request.params.id)
    if (row === undefined) throw notFound(KIND)
    reply.header('etag', etagOf(row.id, row.version))
    return toKpi(row)
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateKpi',
      tags: [TAG],
      summary: 'Change a KPI, its baseline or its targets',
      description: 'Requires `If-Match`. `targets` merges: a period set to null loses its target.',
      security: [{ bearer: ['kpis:read', 'kpis:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(KpiPatchSchema),
      response: { 200: withEtag(KpiRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const patch = request.body
    refuseNaming(callerOf(request), KPI_NAMES, patch.parameters, '/body/parameters')
    const updated = await updateVersioned<KpiRow>(app.db, request, reply, {
      what: KIND,
      objectType: KIND,
      action: () => `${KIND}.updated`,
      read: async (tx) => await getKpi(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareKpi(applyMergePatch(toInput(row), patch))
        if (prepared.draft === null) throw invalid(inBody(prepared.problems), 'The change would leave the KPI invalid.')
        const draft = prepared.draft
        await refuseUnknownRecords(tx, cityId, draft)
        if (draft.period !== row.period && row.method === 'manual' && await hasMeasurements(tx, cityId, row.id)) {
          throw new ProblemError('conflict', 'The KPI has values by its period; define a new KPI to track it by another period.', {
            errors: [{ path: '/body/period', message: `cannot change while values by ${row.period} are recorded` }]
          })
        }
        if (draft.code !== row.code) {
          const holder = await kpiIdByCode(tx, cityId, draft.code)
          if (holder !== undefined) throw codeTaken(holder)
        }
        return await updateKpi(tx, cityId, row.id, row.version, draft)
      }
    })
    return toKpi(updated)
  })

  registerDeleteRoute(app, {
    operationId: 'deleteKpi',
    tag: TAG,
    kind: KIND,
    summary: 'Delete a KPI and its values',
    description: 'A KPI that actions of the prevention plan contribute to (`kpi_ids`) cannot be deleted (409 naming them): take it off ' +
      'those actions first. Every deletion is audited.',
    scope: 'kpis:write',
    readScope: 'kpis:read',
    references: [{ what: 'actions of the prevention plan', table: 'actions', column: 'kpi_ids', array: true, seenWith: { scope: 'plans:read' } }],
    instead: 'Take it off those actions\' kpi_ids first.',
    remove: deleteKpi
  })

  app.put('/:id/measurements/:period', {
    schema: {
      operationId: 'putKpiMeasurement',
      tags: [TAG],
      summary: 'Record a manual KPI\'s value for a period',
      description: 'Creates (201) or replaces (200) the value of one period of the KPI\'s own length (`2026-03`, `2026-Q1`, `2026`). A ' +
        'computed KPI takes no values: 409. The answer tells what is stored, so it needs kpis:read besides kpis:write.',
      security: [{ bearer: ['kpis:write', 'kpis:read'] }],
      params: MeasurementParams,
      body: MeasurementInputSchema,
      response: { 200: MeasurementSchema, 201: MeasurementSchema, ...problemResponses(...AUTHENTICATED, 404, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const { id } = request.params
    const body = request.body
    const written = await app.db.transaction(async (tx) => {
      const kpi = await getKpi(tx, cityId, id)
      if (kpi === undefined) throw notFound(KIND)
      if (kpi.method !== 'manual') throw new ProblemError('conflict', 'A computed KPI takes no values: they come from its metric.')
      const period = parsePeriod(request.params.period)
      if (period === undefined) throw new ProblemError('unprocessable', '/params/period is not a period from 1900 to 2200', { errors: [{ path: '/params/period', message: 'is not a period from 1900 to 2200' }] })
      if (period.length !== kpi.period as PeriodLength) {
        throw new ProblemError('unprocessable', `/params/period must be a ${kpi.period}, the KPI's own period`, { errors: [{ path: '/params/period', message: `must be a ${kpi.period}` }] })
      }
      const row = await upsertMeasurement(tx, cityId, {
        kpiId: kpi.id, period: period.label, periodStart: period.start, value: body.value, numerator: body.numerator ?? null, denominator: body.denominator ?? null
      })
      await recordAudit(tx, cityId, actorOf(request), { action: `${KIND}.measurement_recorded`, objectType: KIND, objectId: kpi.id, details: { period: period.label, created: row.created } })
      return row
    })
    reply.code(written.created ? 201 : 200)
    return toMeasurement(written)
  })

  app.get('/:id/series', {
    schema: {
      operationId: 'getKpiSeries',
      tags: [TAG],
      summary: 'A KPI\'s values period by period, against its targets',
      description: 'Per period: value, numerator, denominator, target, status and whether it is suppressed. `period` coarser than the ' +
        'KPI\'s own rolls a computed KPI up (counts sum; rates and shares are recomputed from the summed numerators and denominators; ' +
        'stakeholder figures take the period\'s end); manual values are not rolled up (422). Counts of incidents and survey respondents ' +
        'below the city\'s small-cell threshold are suppressed, with whatever would give them back across months, quarters and years: ' +
        'a suppressed value withholds its numerator, denominator and status too. The whole series is one SQL query.',
      security: [{ bearer: ['kpis:read'] }],
      params: IdParams,
      querystring: SeriesQuery,
      response: { 200: SeriesSchema, ...problemResponses(...AUTHENTICATED, 404, 422) }
    }
  }, async (request) => {
    const { cityId, city } = callerOf(request)
    const kpi = await getKpi(app.db, cityId, request.params.id)
    if (kpi === undefined) throw notFound(KIND)
    const range = rangeOf(lengthFor(kpi, request.query.period), request.query, city.timezone)
    const series = await computeSeries(app.db, cityId, city.smallCellThreshold, [{ kpi, range }])
    return {
      kpi_id: kpi.id,
      code: kpi.code,
      unit: kpi.unit as KpiInput['unit'],
      direction: kpi.direction as KpiInput['direction'],
      period: range.length,
      baseline: baselineOf(kpi),
      small_cell_threshold: city.smallCellThreshold,
      data: series.get(kpi.id) ?? []
    }
  })
}

export default kpisRoutes
