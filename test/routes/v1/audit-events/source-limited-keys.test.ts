import { randomUUID } from 'node:crypto'
import t from 'tap'
import { bearer, build, comparableProblem, expectProblem } from '../../../helper.js'
import { makeCity, makeKey } from '../../../factories.js'
import { createIncident, getIncident, patchIncident, personalReport, postBatch, type Report } from '../incidents/fixtures.js'

const { app, database } = await build(t)
const db = database.db

interface Event { id: string, occurred_at: string, action: string, object_type: string, object_id: string, actor_key_id: string | null, actor_type: string, request_id: string | null, details: Record<string, unknown> }
interface Page { data: Event[], next_cursor: string | null }

const ok = async (what: string, res: Promise<{ statusCode: number, body: string }>, status = 200): Promise<{ statusCode: number, body: string, json: () => any }> => {
  const answer = await res as { statusCode: number, body: string, json: () => any }
  if (answer.statusCode !== status) throw new Error(`${what}: expected ${status}, got ${answer.statusCode}: ${answer.body}`)
  return answer
}

const withoutMarker = ({ marker: _marker, ...rest }: Report): Report => rest

/**
 * One city's trail, made by the city's own key (admin and the personal-data scope), the administrator of partner
 * ngo-a (admin, limited to ngo-a) and, when `otherSource`, partner ngo-b's key: every step of ngo-b, and every
 * step of the city about ngo-b's records, is left out of the world without it; everything else happens in both,
 * in the same order. The city's own key is made without the API, so its creation is on no trail.
 */
async function world (otherSource: boolean) {
  const city = await makeCity(db)
  const cityKey = await makeKey(db, city.id, ['admin', 'incidents:read_personal'])
  const other = otherSource
  const post = (key: string, url: string, payload: unknown) => app.inject({ method: 'POST', url, headers: bearer(key), payload: payload as Report })
  const partner = (await ok('partner key', post(cityKey.key, '/v1/api-keys', { name: 'ngo-a administrator', scopes: ['admin'], sources: ['ngo-a'] }), 201)).json()
  const theirs = other ? (await ok('ngo-b key', post(cityKey.key, '/v1/api-keys', { name: 'ngo-b import', scopes: ['incidents:write', 'incidents:read', 'exports:read_records'], sources: ['ngo-b'] }), 201)).json() : undefined
  const a1 = await createIncident(app, partner.key, personalReport({ source: 'ngo-a', occurred_on: '2024-03-01' }))
  const b1 = theirs !== undefined ? await createIncident(app, theirs.key, personalReport({ source: 'ngo-b', occurred_on: '2024-03-01' })) : undefined
  // One import by the city with both partners' reports: one request, events on both sources' incidents.
  const batch = [personalReport({ source: 'ngo-a', occurred_on: '2024-03-02' }), ...(other ? [personalReport({ source: 'ngo-b', occurred_on: '2024-03-02' })] : [])]
  const imported = (await ok('batch', postBatch(app, cityKey.key, batch.map(withoutMarker)))).json()
  const [a2, b2] = imported.items.map((item: { id: string }) => item.id) as [string, string | undefined]
  await ok('review a1', patchIncident(app, cityKey.key, a1.id, '*', { status: 'under_review' }))
  if (b1 !== undefined) await ok('review b1', patchIncident(app, cityKey.key, b1.id, '*', { status: 'under_review' }))
  await ok('read a1', getIncident(app, cityKey.key, a1.id))
  if (b1 !== undefined) await ok('read b1', getIncident(app, cityKey.key, b1.id))
  if (b2 !== undefined) await ok('erase b2', app.inject({ method: 'DELETE', url: `/v1/incidents/${b2}/personal-data`, headers: bearer(cityKey.key) }), 204)
  await ok('erase a2', app.inject({ method: 'DELETE', url: `/v1/incidents/${a2}/personal-data`, headers: bearer(cityKey.key) }), 204)
  if (theirs !== undefined) await ok('ngo-b export', app.inject({ method: 'GET', url: '/v1/exports/incidents?format=ndjson', headers: bearer(theirs.key) }))
  await ok('ngo-a export', app.inject({ method: 'GET', url: '/v1/exports/incidents?format=ndjson', headers: bearer(partner.key) }))
  await ok('city stakeholder', post(cityKey.key, '/v1/stakeholders', { kind: 'organization', name: 'Public Library', category: 'community_organization' }), 201)
  await ok('ngo-a stakeholder', post(partner.key, '/v1/stakeholders', { kind: 'organization', name: 'Mutual Aid Circle', category: 'community_organization' }), 201)
  const sub = (await ok('ngo-a sub-key', post(partner.key, '/v1/api-keys', { name: 'ngo-a portal', scopes: ['incidents:write'] }), 201)).json()
  await ok('city-wide key', post(cityKey.key, '/v1/api-keys', { name: 'analyst', scopes: ['exports:read'] }), 201)
  if (theirs !== undefined) await ok('revoke ngo-b key', app.inject({ method: 'DELETE', url: `/v1/api-keys/${theirs.id as string}`, headers: bearer(cityKey.key) }), 204)
  await ok('revoke ngo-a sub-key', app.inject({ method: 'DELETE', url: `/v1/api-keys/${sub.id as string}`, headers: bearer(cityKey.key) }), 204)
  await ok('city change', app.inject({ method: 'PATCH', url: '/v1/city', headers: { ...bearer(cityKey.key), 'if-match': '*' }, payload: { population: 140000 } }))
  return {
    cityKey: cityKey.key,
    cityKeyId: cityKey.id,
    partnerKey: partner.key as string,
    partnerKeyId: partner.id as string,
    partnerKeys: [partner.id as string, sub.id as string],
    a1: a1.id as string,
    ours: [a1.id as string, a2],
    theirs: [b1?.id, b2, theirs?.id].filter((id): id is string => id !== undefined)
  }
}

const both = await world(true)
const alone = await world(false)

const list = async (key: string, search: string): Promise<Page> => (await ok(`list ${search}`, app.inject({ method: 'GET', url: `/v1/audit-events${search}`, headers: bearer(key) }))).json()

/** Every page of a list, walked with its cursors. */
async function walk (key: string, search: string, limit: number): Promise<Page[]> {
  const pages: Page[] = []
  let cursor: string | null = null
  do {
    const page: Page = await list(key, `?limit=${limit}${search}${cursor !== null ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    pages.push(page)
    cursor = page.next_cursor
  } while (cursor !== null && pages.length < 100)
  return pages
}

/**
 * An answer with what is minted during the run masked: each uuid (event, incident, key and request ids) becomes
 * its rank of first appearance, each time and each cursor a placeholder. Two answers that mask alike show the
 * same events, in the same order, with the same links between them.
 */
function masked (answer: unknown): unknown {
  const ranks = new Map<string, string>()
  const text = JSON.stringify(answer, (name, value: unknown) => {
    if (name === 'next_cursor') return value === null ? null : '<cursor>'
    if (name === 'occurred_at') return '<time>'
    return value
  }).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (uuid) => {
    if (!ranks.has(uuid)) ranks.set(uuid, `<id ${ranks.size}>`)
    return ranks.get(uuid) as string
  })
  return JSON.parse(text)
}

t.test('the city\'s own key sees ngo-b\'s part of the trail: the world holds the events to hide', async (t) => {
  const everything = (await list(both.cityKey, '?limit=200')).data
  for (const id of both.theirs) t.ok(everything.some((e) => e.object_id === id || e.actor_key_id === id), `events about or by ${id}`)
})

/**
 * The rule, as the route descriptions state it: ngo-a's administrator sees events about ngo-a's incidents
 * (whoever acted), about keys limited to ngo-a, and any other event only when such a key acted.
 */
const shownToPartner = (w: typeof both) => (e: Event): boolean => {
  if (e.object_type === 'incident') return w.ours.includes(e.object_id)
  if (e.object_type === 'api_key') return w.partnerKeys.includes(e.object_id)
  return e.actor_key_id !== null && w.partnerKeys.includes(e.actor_key_id)
}

t.test('a key limited to ngo-a sees no event about or by ngo-b\'s incidents and keys, and nothing of the city\'s trail elsewhere', async (t) => {
  const everything = (await list(both.cityKey, '?limit=200')).data
  const page = await list(both.partnerKey, '?limit=200')
  t.same(page.data.map((e) => e.id), everything.filter(shownToPartner(both)).map((e) => e.id), 'exactly the events the rule shows, newest first')
  const seen = JSON.stringify(page)
  for (const id of both.theirs) t.notOk(seen.includes(id), `${id} (of ngo-b) appears nowhere`)
  t.notMatch(seen, /ngo-b/, 'ngo-b is not named')
  t.notOk(page.data.some((e) => e.object_type === 'city' || (e.object_type === 'stakeholder' && e.actor_key_id === both.cityKeyId)), 'the city\'s own changes elsewhere are hidden')
  t.ok(page.data.some((e) => e.object_type === 'stakeholder' && e.actor_key_id === both.partnerKeyId), 'what ngo-a\'s administrator did elsewhere is shown')
  t.ok(page.data.some((e) => e.action === 'incident.personal_data_read' && e.object_id === both.a1 && e.actor_key_id === both.cityKeyId),
    'the city\'s reads of ngo-a\'s personal data are shown')
})

t.test('a key limited to ngo-a lists exactly what it would list if ngo-b had never reported, whatever the filter and the page size', async (t) => {
  const searches = (w: typeof both): string[] => [
    '', '&object_type=incident', '&object_type=api_key', '&object_type=export', '&action=incident.created', '&action=incident.updated',
    '&action=incident.personal_data_read', '&action=incident.personal_data_erased', '&action=incident.status_changed', '&action=export.incidents',
    '&action=api_key.revoked', `&actor_key_id=${w.cityKeyId}`, `&actor_key_id=${w.partnerKeyId}`, `&object_id=${w.a1}`,
    '&occurred_from=2000-01-01T00:00:00Z', '&occurred_to=2999-01-01T00:00:00Z'
  ]
  const pairs = searches(both).map((search, i) => [search, searches(alone)[i] as string] as const)
  for (const [mixed, only] of pairs) {
    for (const limit of [1, 2, 3, 5, 200]) {
      const a = await walk(both.partnerKey, mixed, limit)
      const b = await walk(alone.partnerKey, only, limit)
      t.same(masked(a), masked(b), `limit=${limit}${only}: the same pages, page sizes and cursors`)
    }
  }
})

t.test('filtering by ngo-b\'s incidents or key finds nothing, as a random id does', async (t) => {
  for (const id of both.theirs) {
    for (const filter of [`object_id=${id}`, `actor_key_id=${id}`]) {
      const found = await list(both.partnerKey, `?${filter}`)
      const random = await list(both.partnerKey, `?${filter.split('=')[0] as string}=${randomUUID()}`)
      t.same(found, { data: [], next_cursor: null }, filter)
      t.same(found, random, `${filter}: as for a random id`)
    }
  }
})

t.test('reading a hidden event by its id answers 404 exactly like a random uuid; a shown one reads as listed', async (t) => {
  const everything = (await list(both.cityKey, '?limit=200')).data
  const shown = everything.filter(shownToPartner(both))
  const hidden = everything.filter((e) => !shownToPartner(both)(e))
  t.ok(hidden.length >= 10, `${hidden.length} hidden events`)
  const random = await app.inject({ method: 'GET', url: `/v1/audit-events/${randomUUID()}`, headers: bearer(both.partnerKey) })
  expectProblem(t, random, 404, 'not_found', 'a random uuid')
  for (const event of hidden) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit-events/${event.id}`, headers: bearer(both.partnerKey) })
    expectProblem(t, res, 404, 'not_found', `${event.action} on ${event.object_type}`)
    t.same(comparableProblem(res), comparableProblem(random), `${event.action}: indistinguishable from an event that does not exist`)
  }
  for (const event of shown) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit-events/${event.id}`, headers: bearer(both.partnerKey) })
    t.equal(res.statusCode, 200, event.action)
    t.same(res.json(), event, `${event.action}: as listed`)
  }
})
