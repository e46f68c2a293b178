import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { query, type Db } from '../../../../src/db/client.js'
import type { Scope } from '../../../../src/lib/scopes.js'
import { makeCityWithKey, makeKey } from '../../../factories.js'
import { bearer } from '../../../helper.js'

export const uniqueId = (prefix = 'form'): string => `${prefix}-${randomBytes(6).toString('hex')}`

/** Every scope of the surveys, for a city's coordinator (surveys:read_responses is never implied by admin). */
export const SURVEY_SCOPES: Scope[] = ['surveys:write', 'surveys:read', 'survey-responses:write', 'surveys:read_responses']

/** A city with a coordinator's key holding every survey scope. */
export async function surveyCity (db: Db): Promise<{ id: string, key: string }> {
  const city = await makeCityWithKey(db, SURVEY_SCOPES)
  return { id: city.id, key: city.key }
}

/** A key of the city with only these scopes. */
export async function keyWith (db: Db, cityId: string, scopes: Scope[]): Promise<string> {
  return (await makeKey(db, cityId, scopes)).key
}

/** A community survey in English and Spanish with a question of every type. */
export function survey (overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    title: { en: 'Living together in Stamford', es: 'Convivir en Stamford' },
    description: { en: 'Tell us about hate in your neighbourhood.', es: 'Cuéntenos sobre el odio en su barrio.' },
    languages: ['en', 'es'],
    default_language: 'en',
    questions: [
      {
        code: 'neighbourhood',
        type: 'single_choice',
        required: true,
        breakdown: true,
        label: { en: 'Where do you live?', es: '¿Dónde vive?' },
        options: [
          { code: 'downtown', label: { en: 'Downtown', es: 'Centro' } },
          { code: 'west_side', label: { en: 'West Side', es: 'Lado oeste' } },
          { code: 'south_end', label: { en: 'South End', es: 'Extremo sur' } }
        ]
      },
      {
        code: 'witnessed',
        type: 'multiple_choice',
        label: { en: 'What have you witnessed?', es: '¿Qué ha presenciado?' },
        options: [
          { code: 'graffiti', label: { en: 'Hateful graffiti', es: 'Pintadas de odio' } },
          { code: 'harassment', label: { en: 'Harassment', es: 'Acoso' } },
          { code: 'online', label: { en: 'Online hate', es: 'Odio en línea' } }
        ]
      },
      { code: 'safe', type: 'yes_no', required: true, label: { en: 'Do you feel safe?', es: '¿Se siente seguro?' } },
      { code: 'trust_police', type: 'likert_5', label: { en: 'I trust the police', es: 'Confío en la policía' } },
      { code: 'cohesion', type: 'rating_0_10', label: { en: 'How connected is your community?', es: '¿Qué tan unida está su comunidad?' } },
      { code: 'years', type: 'number', min: 0, max: 100, label: { en: 'Years in the city', es: 'Años en la ciudad' } },
      { code: 'story', type: 'text', label: { en: 'Anything else?', es: '¿Algo más?' }, help: { en: 'Optional', es: 'Opcional' } }
    ],
    ...overrides
  }
}

/** A complete, valid response to `survey()`. */
export function response (overrides: Record<string, unknown> = {}): Record<string, any> {
  return {
    language: 'es',
    answers: { neighbourhood: 'downtown', witnessed: ['graffiti', 'online'], safe: false, trust_police: 2, cohesion: 7, years: 12, story: 'Vi pintadas en la biblioteca.' },
    ...overrides
  }
}

export async function postSurvey (app: FastifyInstance, key: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/v1/surveys', headers: { ...bearer(key), ...headers }, payload: body as object })
}

export async function createSurvey (app: FastifyInstance, key: string, body: Record<string, unknown> = survey()): Promise<Record<string, any>> {
  const res = await postSurvey(app, key, body)
  if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
  return { ...res.json(), etag: res.headers.etag }
}

export async function getSurvey (app: FastifyInstance, key: string, id: string, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/surveys/${id}${query}`, headers: bearer(key) })
}

export async function patchSurvey (app: FastifyInstance, key: string, id: string, etag: string | undefined, payload: unknown): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'PATCH', url: `/v1/surveys/${id}`, headers: { ...bearer(key), ...(etag !== undefined ? { 'if-match': etag } : {}) }, payload: payload as object })
}

/** Creates a survey and opens it; answers the open survey with its ETag. */
export async function createOpenSurvey (app: FastifyInstance, key: string, body: Record<string, unknown> = survey()): Promise<Record<string, any>> {
  const created = await createSurvey(app, key, body)
  const res = await patchSurvey(app, key, created.id, created.etag, { status: 'open' })
  if (res.statusCode !== 200) throw new Error(`expected 200, got ${res.statusCode}: ${res.body}`)
  return { ...res.json(), etag: res.headers.etag }
}

export async function postResponse (app: FastifyInstance, key: string, surveyId: string, body: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/surveys/${surveyId}/responses`, headers: { ...bearer(key), ...headers }, payload: body as object })
}

/** Posts responses and fails unless each is created. */
export async function submitResponses (app: FastifyInstance, key: string, surveyId: string, bodies: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = []
  for (const body of bodies) {
    const res = await postResponse(app, key, surveyId, body)
    if (res.statusCode !== 201) throw new Error(`expected 201, got ${res.statusCode}: ${res.body}`)
    ids.push(res.json().id as string)
  }
  return ids
}

export async function postResponseBatch (app: FastifyInstance, key: string, surveyId: string, items: unknown, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: `/v1/surveys/${surveyId}/responses/batch${query}`, headers: bearer(key), payload: items as object })
}

export async function listResponses (app: FastifyInstance, key: string, surveyId: string, query = ''): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `/v1/surveys/${surveyId}/responses${query}`, headers: bearer(key) })
}

export async function responseCount (db: Db, cityId: string, surveyId: string): Promise<number> {
  const [row] = await query<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM survey_responses WHERE city_id = ${cityId} AND survey_id = ${surveyId}`)
  return row?.n ?? -1
}

/** The de-identified answers stored for a survey, as text, in a stable order. */
export async function answerRows (db: Db, cityId: string, surveyId: string): Promise<Array<{ response_id: string, question_code: string, option_code: string, value: string | null, position: number }>> {
  return await query(db, sql`SELECT response_id::text, question_code, option_code, value::text, position FROM survey_answers
    WHERE city_id = ${cityId} AND survey_id = ${surveyId} ORDER BY response_id, question_code, position`)
}

export async function auditActions (db: Db, cityId: string, objectId: string): Promise<Array<{ action: string, details: Record<string, unknown> | null }>> {
  return await query(db, sql`SELECT action, details FROM audit_events WHERE city_id = ${cityId} AND object_id = ${objectId} ORDER BY occurred_at, id`)
}
