/**
 * The catalog of computed KPIs: one entry per metric, each with the parameters it takes (a TypeBox schema,
 * published at GET /v1/kpis/metrics) and its SQL. Every metric answers, for each period of the KPI's own
 * length, a numerator and (where it applies) a denominator; the series (series.ts) rolls them up, suppresses
 * small counts and computes the value.
 *
 * How a metric reads time:
 * - flows (incidents, referrals, meetings, survey answers) are counted by the day they happened, period by
 *   period, in one GROUP BY over the whole range;
 * - stocks (legs of the stool, cross-leg ties, the leadership group) are taken as they stood on the last day
 *   of each period: from stakeholder_history (every change of engagement, activity and leadership-group
 *   membership, with the day it was recorded) and relationships' `since`/`until` (a relationship without
 *   `since` counts from the day it was recorded), never from today's state.
 * Actions are read as their progress notes (action_updates) stood at the period's end: an action recorded by then
 * with no note yet counts as not started; funding lines count from the day they were secured (`secured_on`, or
 * the day the action was recorded when it has none).
 * Incidents are read from `incident_statistics`, which leaves out the reports whose reporters opted out of
 * statistics, duplicates and unfounded reports.
 */
import { sql, type SQL } from 'drizzle-orm'
import Type, { type Static, type TSchema } from 'typebox'
import { textArrayLiteral } from '../../../db/client.js'
import { ENGAGEMENT_LEVELS, HORIZONS, LEADERSHIP_ROLES, LOCAL_FUNDING_SOURCES, MEETING_KINDS, type KPI_UNITS } from '../../../db/schema/index.js'
import { monthsOf, type PeriodLength } from './periods.js'

type Unit = typeof KPI_UNITS[number]

/**
 * How a metric's numbers combine and what its value is:
 * - count: value = numerator; a coarser period sums the numerators.
 * - rate: value = numerator per 100,000 of the denominator (the city's population); numerators sum, the
 *   denominator is the population.
 * - share: value = 100 × numerator / denominator; both sum.
 * - mean: value = numerator (a sum of answers) / denominator (their number); both sum.
 * - stock: value = numerator as it stood at the period's end; a coarser period takes its last part's.
 * - stock_share: value = 100 × numerator / denominator as they stood at the period's end; a coarser period
 *   takes its last part's.
 */
export type MetricKind = 'count' | 'rate' | 'share' | 'mean' | 'stock' | 'stock_share'

export interface MetricQuery {
  cityId: string
  /** The KPI's own period length: the SQL answers one row per period of it. */
  length: PeriodLength
  /** First and last day of the range, YYYY-MM-DD. */
  from: string
  to: string
  parameters: Record<string, unknown>
}

/**
 * A metric's SQL, one of two shapes, joined by the series to the periods of the range:
 * - `bucketed`: a query of the whole range answering `period_start`, `numerator`, `denominator` for each
 *   period with something in it;
 * - `asOf`: a query answering one row of `numerator`, `denominator`, run for each period with the period's
 *   last day as `p.period_end` (LEFT JOIN LATERAL).
 */
export type MetricSql = { bucketed: SQL } | { asOf: SQL }

export interface Metric {
  description: string
  kind: MetricKind
  /** The units a KPI of this metric may declare. */
  units: readonly Unit[]
  /**
   * True when the numbers count people or their reports (incidents, survey respondents): they are
   * suppressed below the city's small-cell threshold.
   */
  sensitive: boolean
  parameters: TSchema
  sql: (query: MetricQuery) => MetricSql
  /** A denominator the same for every period (the city's population), when the SQL does not give one. */
  denominator?: (query: MetricQuery) => SQL
  /**
   * The parameters that name a record of the city by its id: a KPI naming one the city does not have (missing,
   * or another city's) is refused, since its SQL, filtered by the city, would count nothing and say 0.
   */
  references?: readonly ParameterReference[]
}

/** A parameter holding the id of a record of the city: the table the record is in, and what it is, in words. */
export interface ParameterReference { parameter: string, table: string, what: string }

// ---------------------------------------------------------------------------------------------------------
// Shared pieces

const Codes = (description: string, maxLength = 64) => Type.Array(Type.String({ minLength: 1, maxLength }), { minItems: 1, maxItems: 50, uniqueItems: true, description })

const IncidentFilter = {
  incident_type: Type.Optional(Type.Array(Type.Enum(['hate_crime', 'bias_incident', 'undetermined']), { minItems: 1, maxItems: 3, uniqueItems: true, description: 'Only these types.' })),
  bias_category: Type.Optional(Codes('Only incidents with at least one of these bias categories.')),
  bias_code: Type.Optional(Codes('Only incidents with at least one of these bias-motivation codes (NIBRS).', 8)),
  status: Type.Optional(Type.Array(Type.Enum(['received', 'under_review', 'verified', 'referred', 'closed']), { minItems: 1, maxItems: 5, uniqueItems: true, description: 'Only incidents now in these statuses.' })),
  neighborhood: Type.Optional(Codes('Only incidents in these neighbourhoods.', 200)),
  online: Type.Optional(Type.Boolean({ description: 'Only online (true) or offline (false) incidents.' }))
}
const IncidentParameters = Type.Object(IncidentFilter, { additionalProperties: false })
type IncidentFilterValues = Static<typeof IncidentParameters>

/** The day a row falls on, truncated to the start of its period. */
const bucket = (column: SQL, length: PeriodLength): SQL => sql`date_trunc(${sql.raw(`'${length}'`)}, (${column})::timestamp)::date`
/** The day after the period a day falls in. */
const periodAfter = (column: SQL, length: PeriodLength): SQL => sql`(date_trunc(${sql.raw(`'${length}'`)}, (${column})::timestamp) + ${sql.raw(`interval '${monthsOf(length)} months'`)})::date`

const list = (values: readonly string[]): SQL => sql`${textArrayLiteral(values)}::text[]`

/** The incidents that count, of the range, with a KPI's filters. */
function incidentConditions (q: MetricQuery): SQL {
  const p = q.parameters as IncidentFilterValues
  const parts: SQL[] = [sql`i.city_id = ${q.cityId}::uuid`, sql`i.occurred_on BETWEEN ${q.from}::date AND ${q.to}::date`]
  if (p.incident_type !== undefined) parts.push(sql`i.incident_type = ANY(${list(p.incident_type)})`)
  if (p.bias_category !== undefined) parts.push(sql`i.bias_categories && ${list(p.bias_category)}`)
  if (p.bias_code !== undefined) parts.push(sql`i.bias_motivations && ${list(p.bias_code)}`)
  if (p.status !== undefined) parts.push(sql`i.status = ANY(${list(p.status)})`)
  if (p.neighborhood !== undefined) parts.push(sql`i.neighborhood = ANY(${list(p.neighborhood)})`)
  if (p.online !== undefined) parts.push(sql`i.is_online = ${p.online}`)
  return sql.join(parts, sql` AND `)
}

/**
 * Each stakeholder's state on the period's last day: the latest change recorded on or before it. A
 * stakeholder with no change by then did not exist yet in the city's records.
 */
const statesAt = (cityId: string): SQL => sql`(
  SELECT DISTINCT ON (h.stakeholder_id) h.stakeholder_id, h.engagement_level, h.leadership_role, h.leadership_joined_on, h.leadership_left_on, h.active
  FROM stakeholder_history h
  WHERE h.city_id = ${cityId}::uuid AND h.recorded_on <= p.period_end
  ORDER BY h.stakeholder_id, h.recorded_on DESC, h.sequence DESC)`

const levelsFrom = (level: string): string[] => ENGAGEMENT_LEVELS.slice(ENGAGEMENT_LEVELS.indexOf(level as typeof ENGAGEMENT_LEVELS[number]))

const PLAN_REFERENCE: readonly ParameterReference[] = [{ parameter: 'plan_id', table: 'action_plans', what: 'an action plan' }]

const ActionParameters = Type.Object({
  plan_id: Type.Optional(Type.String({ format: 'uuid', maxLength: 36, description: 'Only the actions of this plan; default every plan of the city.' })),
  horizon: Type.Optional(Type.Array(Type.Enum(HORIZONS), { minItems: 1, maxItems: 3, uniqueItems: true, description: 'Only actions of these horizons.' }))
}, { additionalProperties: false })

/** The actions of a KPI's scope recorded by the period's end. */
function actionConditions (q: MetricQuery): SQL {
  const parts: SQL[] = [sql`a.city_id = ${q.cityId}::uuid`, sql`(a.created_at AT TIME ZONE c.timezone)::date <= p.period_end`]
  const plan = q.parameters.plan_id as string | undefined
  const horizons = q.parameters.horizon as string[] | undefined
  if (plan !== undefined) parts.push(sql`a.plan_id = ${plan}::uuid`)
  if (horizons !== undefined) parts.push(sql`a.horizon = ANY(${list(horizons)})`)
  return sql.join(parts, sql` AND `)
}

/** Each action of the scope with its status at the period's end: its latest progress note by then. */
const actionsAt = (q: MetricQuery): SQL => sql`(
  SELECT a.id, a.due_on, coalesce((SELECT u.status FROM action_updates u
      WHERE u.city_id = a.city_id AND u.action_id = a.id AND u.recorded_on <= p.period_end
      ORDER BY u.recorded_on DESC, u.created_at DESC, u.id DESC LIMIT 1), 'not_started') AS status
  FROM actions a JOIN cities c ON c.id = a.city_id
  WHERE ${actionConditions(q)})`

// ---------------------------------------------------------------------------------------------------------
// The catalog

const SurveyQuestion = {
  survey_id: Type.String({ format: 'uuid', maxLength: 36, description: 'A survey of the city.' }),
  question_code: Type.String({ minLength: 1, maxLength: 64 })
}
const SURVEY_REFERENCE: readonly ParameterReference[] = [{ parameter: 'survey_id', table: 'surveys', what: 'a survey' }]

export const METRICS = {
  incident_count: {
    description: 'Bias incidents and hate crimes that occurred in the period, with optional filters. Reports whose reporters opted out of ' +
      'statistics, duplicates and unfounded reports never count.',
    kind: 'count',
    units: ['count'],
    sensitive: true,
    parameters: IncidentParameters,
    sql: (q) => ({
      bucketed: sql`SELECT ${bucket(sql`i.occurred_on`, q.length)} AS period_start, count(*) AS numerator, NULL::bigint AS denominator
        FROM incident_statistics i WHERE ${incidentConditions(q)} GROUP BY 1`
    })
  },
  incident_rate: {
    description: 'The same count per 100,000 residents: numerator the incidents, denominator the city\'s population. Without a population ' +
      'the value is null with the reason `population_missing`.',
    kind: 'rate',
    units: ['rate_per_100k'],
    sensitive: true,
    parameters: IncidentParameters,
    sql: (q) => ({
      bucketed: sql`SELECT ${bucket(sql`i.occurred_on`, q.length)} AS period_start, count(*) AS numerator, NULL::bigint AS denominator
        FROM incident_statistics i WHERE ${incidentConditions(q)} GROUP BY 1`
    }),
    denominator: (q) => sql`(SELECT c.population FROM cities c WHERE c.id = ${q.cityId}::uuid)`
  },
  incident_referred_share: {
    description: 'The share of the period\'s incidents referred to a program or stakeholder by the period\'s end (at least one referral): ' +
      'numerator the referred incidents, denominator all incidents, with the same filters as incident_count.',
    kind: 'share',
    units: ['percent'],
    sensitive: true,
    parameters: IncidentParameters,
    sql: (q) => ({
      bucketed: sql`SELECT ${bucket(sql`i.occurred_on`, q.length)} AS period_start,
          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM incident_referrals r WHERE r.city_id = i.city_id AND r.incident_id = i.id
            AND r.referred_on < ${periodAfter(sql`i.occurred_on`, q.length)})) AS numerator,
          count(*) AS denominator
        FROM incident_statistics i WHERE ${incidentConditions(q)} GROUP BY 1`
    })
  },
  legs_with_active_member: {
    description: 'How many of the four legs of the stool (elected officials, city staff, community, law enforcement) had, at the period\'s ' +
      'end, at least one stakeholder not archived and engaged at `min_engagement` or above; the denominator is 4.',
    kind: 'stock',
    units: ['count'],
    sensitive: false,
    parameters: Type.Object({
      min_engagement: Type.Optional(Type.Enum(ENGAGEMENT_LEVELS, { description: 'Default active.' }))
    }, { additionalProperties: false }),
    sql: (q) => {
      const min = (q.parameters.min_engagement as string | undefined) ?? 'active'
      return {
        asOf: sql`SELECT count(DISTINCT s.leg) AS numerator, 4 AS denominator
          FROM ${statesAt(q.cityId)} st
          JOIN stakeholders s ON s.city_id = ${q.cityId}::uuid AND s.id = st.stakeholder_id
          WHERE st.active AND s.leg IS NOT NULL AND st.engagement_level = ANY(${list(levelsFrom(min))})`
      }
    }
  },
  cross_leg_ties: {
    description: 'Ties in force at the period\'s end between stakeholders of two different legs, both not archived then; several ' +
      'relationships between the same two count once.',
    kind: 'stock',
    units: ['count'],
    sensitive: false,
    parameters: Type.Object({
      relationship_type: Type.Optional(Type.Array(Type.Enum(['collaboration', 'trust', 'referral', 'funding', 'communication']), { minItems: 1, maxItems: 5, uniqueItems: true })),
      min_strength: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'Only ties at least this strong (1–5).' }))
    }, { additionalProperties: false }),
    sql: (q) => {
      const types = q.parameters.relationship_type as string[] | undefined
      const strength = q.parameters.min_strength as number | undefined
      return {
        asOf: sql`SELECT count(*) AS numerator, NULL::bigint AS denominator FROM (
          SELECT DISTINCT least(r.from_id, r.to_id), greatest(r.from_id, r.to_id)
          FROM stakeholder_relationships r
          JOIN cities c ON c.id = r.city_id
          JOIN ${statesAt(q.cityId)} sa ON sa.stakeholder_id = r.from_id
          JOIN ${statesAt(q.cityId)} sb ON sb.stakeholder_id = r.to_id
          JOIN stakeholders a ON a.city_id = r.city_id AND a.id = r.from_id
          JOIN stakeholders b ON b.city_id = r.city_id AND b.id = r.to_id
          WHERE r.city_id = ${q.cityId}::uuid AND sa.active AND sb.active
            AND a.leg IS NOT NULL AND b.leg IS NOT NULL AND a.leg <> b.leg
            AND coalesce(r.since, (r.created_at AT TIME ZONE c.timezone)::date) <= p.period_end
            AND (r.until IS NULL OR r.until >= p.period_end)
            ${types === undefined ? sql`` : sql`AND r.type = ANY(${list(types)})`}
            ${strength === undefined ? sql`` : sql`AND r.strength >= ${strength}`}) ties`
      }
    }
  },
  leadership_group_size: {
    description: 'Members of the leadership group at the period\'s end: stakeholders not archived, with a role, joined by then and not ' +
      'left before it.',
    kind: 'stock',
    units: ['count'],
    sensitive: false,
    parameters: Type.Object({
      role: Type.Optional(Type.Array(Type.Enum(LEADERSHIP_ROLES), { minItems: 1, maxItems: 4, uniqueItems: true, description: 'Only these roles; default all.' }))
    }, { additionalProperties: false }),
    sql: (q) => {
      const roles = (q.parameters.role as string[] | undefined) ?? [...LEADERSHIP_ROLES]
      return {
        asOf: sql`SELECT count(*) AS numerator, NULL::bigint AS denominator
          FROM ${statesAt(q.cityId)} st
          WHERE st.active AND st.leadership_role = ANY(${list(roles)})
            AND (st.leadership_joined_on IS NULL OR st.leadership_joined_on <= p.period_end)
            AND (st.leadership_left_on IS NULL OR st.leadership_left_on >= p.period_end)`
      }
    }
  },
  meetings_held: {
    description: 'Meetings held in the period, of the kinds given (default all).',
    kind: 'count',
    units: ['count'],
    sensitive: false,
    parameters: Type.Object({
      kind: Type.Optional(Type.Array(Type.Enum(MEETING_KINDS), { minItems: 1, maxItems: 5, uniqueItems: true }))
    }, { additionalProperties: false }),
    sql: (q) => {
      const kinds = q.parameters.kind as string[] | undefined
      return {
        bucketed: sql`SELECT ${bucket(sql`m.held_on`, q.length)} AS period_start, count(*) AS numerator, NULL::bigint AS denominator
          FROM meetings m WHERE m.city_id = ${q.cityId}::uuid AND m.held_on BETWEEN ${q.from}::date AND ${q.to}::date
            ${kinds === undefined ? sql`` : sql`AND m.kind = ANY(${list(kinds)})`}
          GROUP BY 1`
      }
    }
  },
  action_completion_rate: {
    description: 'The share of the actions recorded by the period\'s end that were completed by then (by their progress notes); cancelled ' +
      'actions are left out of both numerator and denominator.',
    kind: 'stock_share',
    units: ['percent'],
    sensitive: false,
    parameters: ActionParameters,
    references: PLAN_REFERENCE,
    sql: (q) => ({
      asOf: sql`SELECT count(*) FILTER (WHERE s.status = 'completed') AS numerator, count(*) FILTER (WHERE s.status <> 'cancelled') AS denominator
        FROM ${actionsAt(q)} s`
    })
  },
  action_on_track_share: {
    description: 'Of the actions under way at the period\'s end (neither completed nor cancelled), the share on track.',
    kind: 'stock_share',
    units: ['percent'],
    sensitive: false,
    parameters: ActionParameters,
    references: PLAN_REFERENCE,
    sql: (q) => ({
      asOf: sql`SELECT count(*) FILTER (WHERE s.status = 'on_track') AS numerator, count(*) FILTER (WHERE s.status NOT IN ('completed', 'cancelled')) AS denominator
        FROM ${actionsAt(q)} s`
    })
  },
  action_overdue_count: {
    description: 'Actions due before the period\'s last day and neither completed nor cancelled by then.',
    kind: 'stock',
    units: ['count'],
    sensitive: false,
    parameters: ActionParameters,
    references: PLAN_REFERENCE,
    sql: (q) => ({
      asOf: sql`SELECT count(*) FILTER (WHERE s.due_on < p.period_end AND s.status NOT IN ('completed', 'cancelled')) AS numerator, NULL::bigint AS denominator
        FROM ${actionsAt(q)} s`
    })
  },
  local_funding_share: {
    description: `The share of the funding secured by the period's end that comes from local sources (${LOCAL_FUNDING_SOURCES.join(', ')}): ` +
      'numerator and denominator in the plan\'s minor currency units. Give `plan_id` when plans keep their money in different currencies.',
    kind: 'stock_share',
    units: ['percent'],
    sensitive: false,
    parameters: ActionParameters,
    references: PLAN_REFERENCE,
    sql: (q) => ({
      asOf: sql`SELECT coalesce(sum((l->>'amount')::numeric) FILTER (WHERE l->>'source_type' = ANY(${list(LOCAL_FUNDING_SOURCES)})), 0) AS numerator,
          coalesce(sum((l->>'amount')::numeric), 0) AS denominator
        FROM actions a JOIN cities c ON c.id = a.city_id
        CROSS JOIN LATERAL jsonb_array_elements(a.funding) AS l
        WHERE ${actionConditions(q)} AND (l->>'secured')::boolean
          AND coalesce((l->>'secured_on')::date, (a.created_at AT TIME ZONE c.timezone)::date) <= p.period_end`
    })
  },
  survey_option_share: {
    description: 'The share of a survey question\'s respondents in the period (by the day the response was filled in) who chose an option: ' +
      'numerator those who chose it, denominator those who answered the question.',
    kind: 'share',
    units: ['percent'],
    sensitive: true,
    parameters: Type.Object({ ...SurveyQuestion, option_code: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
    references: SURVEY_REFERENCE,
    sql: (q) => ({
      bucketed: sql`SELECT ${bucket(sql`sr.filled_on`, q.length)} AS period_start,
          count(DISTINCT a.response_id) FILTER (WHERE a.option_code = ${q.parameters.option_code as string}) AS numerator,
          count(DISTINCT a.response_id) AS denominator
        FROM survey_answers a
        JOIN survey_responses sr ON sr.city_id = a.city_id AND sr.survey_id = a.survey_id AND sr.id = a.response_id
        WHERE a.city_id = ${q.cityId}::uuid AND a.survey_id = ${q.parameters.survey_id as string}::uuid
          AND a.question_code = ${q.parameters.question_code as string}
          AND sr.filled_on BETWEEN ${q.from}::date AND ${q.to}::date
        GROUP BY 1`
    })
  },
  survey_question_mean: {
    description: 'The mean answer to a numeric survey question (likert, rating, number) in the period: numerator the sum of the answers, ' +
      'denominator their number; withheld when fewer respondents than the city\'s small-cell threshold answered.',
    kind: 'mean',
    units: ['score', 'count', 'days', 'currency'],
    sensitive: true,
    parameters: Type.Object(SurveyQuestion, { additionalProperties: false }),
    references: SURVEY_REFERENCE,
    sql: (q) => ({
      bucketed: sql`SELECT ${bucket(sql`sr.filled_on`, q.length)} AS period_start, sum(a.value) AS numerator, count(*) AS denominator
        FROM survey_answers a
        JOIN survey_responses sr ON sr.city_id = a.city_id AND sr.survey_id = a.survey_id AND sr.id = a.response_id
        WHERE a.city_id = ${q.cityId}::uuid AND a.survey_id = ${q.parameters.survey_id as string}::uuid
          AND a.question_code = ${q.parameters.question_code as string} AND a.value IS NOT NULL
          AND sr.filled_on BETWEEN ${q.from}::date AND ${q.to}::date
        GROUP BY 1`
    })
  }
} satisfies Record<string, Metric>

export type MetricName = keyof typeof METRICS
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[]

export const metricOf = (name: string | null): Metric | undefined =>
  name !== null && Object.hasOwn(METRICS, name) ? (METRICS as Record<string, Metric>)[name] : undefined
