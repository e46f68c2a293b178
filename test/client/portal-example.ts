/**
 * A city portal's integration, written only against the published contract: the types come from
 * openapi/openapi.json through openapi-typescript, the calls go through openapi-fetch. If the contract
 * changes in a way that breaks a portal, this file stops type-checking.
 */
import createClient, { type Client } from 'openapi-fetch'
import type { paths } from './generated/cohesion-api.js'

export type CohesionClient = Client<paths>

export function portalClient (baseUrl: string, apiKey: string): CohesionClient {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${apiKey}` } })
}

/** The banner a portal shows: the city's name and the languages it offers. */
export async function cityBanner (client: CohesionClient): Promise<string> {
  const { data, error } = await client.GET('/v1/city')
  if (error !== undefined) throw new Error(`${error.code}: ${error.detail}`)
  return `${data.name} (${data.languages.join(', ')})`
}

/** Read, then write with the ETag, as the contract asks. */
export async function setPopulation (client: CohesionClient, population: number): Promise<number | null> {
  const read = await client.GET('/v1/city')
  const etag = read.response.headers.get('etag') ?? ''
  const { data, error } = await client.PATCH('/v1/city', { params: { header: { 'if-match': etag } }, body: { population } })
  if (error !== undefined) throw new Error(`${error.code}: ${error.detail}`)
  return data.population
}

/** Issues a key for a partner organisation's imports, safe to retry with the same idempotency key. */
export async function issuePartnerKey (client: CohesionClient, source: string, idempotencyKey: string): Promise<{ id: string, secret: string }> {
  const { data, error } = await client.POST('/v1/api-keys', {
    params: { header: { 'idempotency-key': idempotencyKey } },
    body: { name: `Imports from ${source}`, scopes: ['incidents:write', 'incidents:read'], sources: [source] }
  })
  if (error !== undefined) throw new Error(`${error.code}: ${error.detail}`)
  return { id: data.id, secret: data.key }
}

/** Walks every page of a list by its cursor. */
export async function allKeyNames (client: CohesionClient): Promise<string[]> {
  const names: string[] = []
  let cursor: string | undefined
  do {
    const { data, error } = await client.GET('/v1/api-keys', { params: { query: { limit: 2, ...(cursor !== undefined ? { cursor } : {}) } } })
    if (error !== undefined) throw new Error(`${error.code}: ${error.detail}`)
    names.push(...data.data.map((key) => key.name))
    cursor = data.next_cursor ?? undefined
  } while (cursor !== undefined)
  return names
}
