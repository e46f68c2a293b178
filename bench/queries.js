// SQL the bare baseline runs, shared with the scenarios so that the bench can EXPLAIN exactly what the baseline sends.

/**
 * GET /v1/incidents with a date range and a bias code, as Cohesion's Drizzle query sends it: every column of
 * the table, its referrals (from incident_referrals, aggregated in the row) and updated_at as text (the cursor
 * key), one city, the range, the code, newest first, one row more than the page (50) to know whether there is
 * a next page.
 */
export const LIST_SQL = `SELECT city_id, id, source, external_id, incident_type, bias_motivations, bias_categories, offense_types,
  taxonomy_version, occurred_on, occurred_at, reported_at, language, location_type, neighborhood, census_tract, coarse_latitude,
  coarse_longitude, is_online, platform, summary, victim_count, victim_type, contact_ok, share_with_law_enforcement,
  include_in_statistics, status, resolution, duplicate_of, personal_data, data_key, personal_data_erased_at, content_hash,
  version, created_at, updated_at, (SELECT coalesce(jsonb_agg(jsonb_build_object(
    'kind', CASE WHEN r.program_id IS NOT NULL THEN 'program' ELSE 'stakeholder' END,
    'id', coalesce(r.program_id, r.stakeholder_id),
    'referred_on', to_char(r.referred_on, 'YYYY-MM-DD')) ORDER BY r.position), '[]'::jsonb)
  FROM incident_referrals r WHERE r.city_id = incidents.city_id AND r.incident_id = incidents.id) AS referrals, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at_key
FROM incidents
WHERE city_id = $1 AND occurred_on BETWEEN $2 AND $3 AND bias_motivations @> ARRAY[$4]::text[]
ORDER BY occurred_on DESC NULLS LAST, id DESC NULLS LAST
LIMIT $5`

export const LIST_LIMIT = 50
