import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { query } from '../../../../src/db/client.js'
import { bearer, build } from '../../../helper.js'
import { makeCity, makeKey } from '../../../factories.js'
import { auditActions, createIncident, etagOf, getIncident, patchIncident, personalReport, postBatch, postIncident, report, type Report } from './fixtures.js'

const { app, database } = await build(t)
const db = database.db

/** A city with a writer, a plain reader, an admin, a personal-data reader and the steward who may erase. */
async function cityWithKeys (): Promise<{ id: string, writer: string, reader: string, admin: string, personal: string, steward: string }> {
  const city = await makeCity(db)
  const key = async (scopes: Parameters<typeof makeKey>[2]): Promise<string> => (await makeKey(db, city.id, scopes)).key
  return {
    id: city.id,
    writer: await key(['incidents:write', 'incidents:read', 'incidents:case']),
    reader: await key(['incidents:read']),
    admin: await key(['admin']),
    personal: await key(['incidents:read', 'incidents:read_personal']),
    steward: await key(['incidents:write', 'incidents:read_personal'])
  }
}

/** The plaintext values of a personal report that must never appear outside the personal scope or at rest. */
function secretsOf (sent: Report & { marker: string }): string[] {
  const reporter = sent.reporter as { name: string, email: string }
  const location = sent.location as { address: string }
  return [sent.marker, sent.narrative as string, reporter.name, reporter.email, location.address, '053921', '538731', '555 0187', '5550187']
}

function assertAbsent (t: Test, text: string, secrets: string[], where: string): void {
  for (const secret of secrets) t.notOk(text.includes(secret), `${where} does not contain ${JSON.stringify(secret)}`)
}

async function rawRow (id: string): Promise<{ personal_data: unknown, data_key: unknown, whole: string }> {
  const [row] = await query<{ personal_data: unknown, data_key: unknown, whole: string }>(db,
    sql`SELECT personal_data, data_key, i::text AS whole FROM incidents i WHERE id = ${id}`)
  if (row === undefined) throw new Error('no such row')
  return row
}

const bytesOf = (value: unknown): Buffer => Buffer.isBuffer(value) || value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(String(value))

t.test('without incidents:read_personal (even as admin), GET and list carry no personal field and only coarse coordinates', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const incident = await createIncident(app, city.writer, sent)
  const secrets = secretsOf(sent)
  for (const [who, key] of [['incidents:read', city.reader], ['admin', city.admin], ['incidents:write', city.writer]] as const) {
    const one = await getIncident(app, key, incident.id)
    t.equal(one.statusCode, 200, who)
    const body = one.json()
    t.notOk('narrative' in body, `${who}: no narrative key`)
    t.notOk('reporter' in body, `${who}: no reporter key`)
    t.notOk('address' in body.location, `${who}: no address key`)
    t.equal(body.location.latitude, 41.05, `${who}: latitude rounded to 2 decimals`)
    t.equal(body.location.longitude, -73.54, `${who}: longitude rounded to 2 decimals`)
    t.equal(body.location.coordinates_precision, 'coarse')
    t.equal(body.personal_data, 'held', 'says that personal data exists, without showing it')
    assertAbsent(t, one.body, secrets, `${who}: GET one`)

    const list = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(key) })
    t.equal(list.json().data.length, 1)
    t.notOk('narrative' in list.json().data[0])
    t.notOk('reporter' in list.json().data[0])
    assertAbsent(t, list.body, secrets, `${who}: list`)
  }
  assertAbsent(t, JSON.stringify(incident), secrets, 'the POST answer')
})

t.test('with incidents:read_personal, GET one shows narrative, reporter, address and exact coordinates; the list still does not', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const incident = await createIncident(app, city.writer, sent)
  const body = (await getIncident(app, city.personal, incident.id)).json()
  t.equal(body.narrative, sent.narrative)
  t.same(body.reporter, sent.reporter)
  t.equal(body.location.address, `${sent.marker} Elm Street`)
  t.equal(body.location.latitude, 41.053921)
  t.equal(body.location.longitude, -73.538731)
  t.equal(body.location.coordinates_precision, 'exact')
  const list = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(city.personal) })
  assertAbsent(t, list.body, secretsOf(sent), 'the list for a personal key')
})

t.test('each personal read writes an incident.personal_data_read audit event; a read without the scope writes none', async (t) => {
  const city = await cityWithKeys()
  const incident = await createIncident(app, city.writer, personalReport())
  await getIncident(app, city.reader, incident.id)
  await getIncident(app, city.admin, incident.id)
  t.equal((await auditActions(db, city.id, incident.id)).filter((e) => e.action === 'incident.personal_data_read').length, 0, 'no event for reads without the scope')
  await getIncident(app, city.personal, incident.id)
  await getIncident(app, city.personal, incident.id)
  const reads = (await auditActions(db, city.id, incident.id)).filter((e) => e.action === 'incident.personal_data_read')
  t.equal(reads.length, 2, 'one event per personal read')
  t.match(reads[0]?.details, { readable: true })
  const events = await app.inject({ method: 'GET', url: `/v1/audit-events?action=incident.personal_data_read&object_id=${incident.id}`, headers: bearer(city.admin) })
  t.equal(events.json().data.length, 2, 'the events are in the audit trail')
})

t.test('at rest, the narrative, the reporter, the address and exact coordinates are ciphertext only', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const incident = await createIncident(app, city.writer, sent)
  const row = await rawRow(incident.id)
  t.ok(bytesOf(row.personal_data).length > 0, 'personal data is stored')
  t.ok(bytesOf(row.data_key).length > 0, 'with its own sealed data key')
  const secrets = [...secretsOf(sent), '41.053921', '-73.538731', 'victim']
  assertAbsent(t, row.whole, secrets, 'the row as text')
  assertAbsent(t, row.whole, secrets.map((s) => Buffer.from(s).toString('hex')), 'the row as text (bytea hex)')
  assertAbsent(t, bytesOf(row.personal_data).toString('latin1'), secrets, 'personal_data bytes')
  assertAbsent(t, bytesOf(row.data_key).toString('latin1'), secrets, 'data_key bytes')
  t.match(row.whole, /41\.05/, 'the coarse latitude is kept in the clear')

  const audit = await query<{ whole: string }>(db, sql`SELECT a::text AS whole FROM audit_events a WHERE city_id = ${city.id}`)
  assertAbsent(t, audit.map((a) => a.whole).join('\n'), secrets, 'the audit trail')
})

t.test('a partner re-sending a report with a corrected narrative replaces the sealed personal data', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const incident = await createIncident(app, city.writer, sent)
  const corrected = await postIncident(app, city.writer, { ...sent, narrative: `Corrected account ${sent.marker}` })
  t.equal(corrected.statusCode, 200)
  const body = (await getIncident(app, city.personal, incident.id)).json()
  t.equal(body.narrative, `Corrected account ${sent.marker}`)
  t.equal(body.version, 2)
  assertAbsent(t, (await rawRow(incident.id)).whole, [`Corrected account ${sent.marker}`], 'the row as text')
})

t.test('ciphertext moved to another incident does not open there: no narrative of the other, no 5xx', async (t) => {
  const city = await cityWithKeys()
  const a = personalReport()
  const incidentA = await createIncident(app, city.writer, a)
  const b = personalReport()
  const incidentB = await createIncident(app, city.writer, b)
  await db.execute(sql`UPDATE incidents SET personal_data = src.personal_data, data_key = src.data_key
    FROM (SELECT personal_data, data_key FROM incidents WHERE id = ${incidentA.id}) AS src WHERE incidents.id = ${incidentB.id}`)
  const res = await getIncident(app, city.personal, incidentB.id)
  t.equal(res.statusCode, 200)
  assertAbsent(t, res.body, secretsOf(a), 'B read with A\'s ciphertext')
  assertAbsent(t, res.body, secretsOf(b), 'B read with A\'s ciphertext')
  t.notOk('narrative' in res.json(), 'no narrative at all')
  t.not(res.json().location.coordinates_precision, 'exact')
  const reads = (await auditActions(db, city.id, incidentB.id)).filter((e) => e.action === 'incident.personal_data_read')
  t.match(reads[0]?.details, { readable: false }, 'the failed read is audited as unreadable')
  t.equal((await getIncident(app, city.personal, incidentA.id)).json().narrative, a.narrative, 'A still opens in its own row')

  const otherCity = await cityWithKeys()
  const incidentC = await createIncident(app, otherCity.writer, personalReport())
  await db.execute(sql`UPDATE incidents SET personal_data = src.personal_data, data_key = src.data_key
    FROM (SELECT personal_data, data_key FROM incidents WHERE id = ${incidentA.id}) AS src WHERE incidents.id = ${incidentC.id}`)
  const moved = await getIncident(app, otherCity.personal, incidentC.id)
  t.equal(moved.statusCode, 200)
  assertAbsent(t, moved.body, secretsOf(a), 'another city\'s row with A\'s ciphertext')

  const patched = await patchIncident(app, city.writer, incidentB.id, '*', { summary: 'Corrected summary' })
  t.equal(patched.statusCode, 409, 'changing an incident whose personal data does not open is a conflict, not a 5xx')
  t.equal(patched.json().code, 'conflict')
  t.match(patched.json().detail, /personal-data/, 'the problem says how to resolve it')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/incidents/${incidentB.id}/personal-data`, headers: bearer(city.steward) })).statusCode, 204)
  t.equal((await patchIncident(app, city.writer, incidentB.id, '*', { summary: 'Corrected summary' })).statusCode, 200, 'after erasure it can be changed again')
})

t.test('DELETE /personal-data erases for good and keeps the de-identified record', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport({ bias_motivations: ['14', '21'] })
  const incident = await createIncident(app, city.writer, sent)
  const erased = await app.inject({ method: 'DELETE', url: `/v1/incidents/${incident.id}/personal-data`, headers: bearer(city.steward) })
  t.equal(erased.statusCode, 204)
  t.equal(erased.body, '')

  const body = (await getIncident(app, city.personal, incident.id)).json()
  t.equal(body.personal_data, 'erased')
  t.equal(body.narrative ?? null, null)
  t.equal(body.reporter ?? null, null)
  t.equal(body.location.address ?? null, null)
  t.not(body.location.coordinates_precision, 'exact')
  t.same(body.bias_motivations, ['14', '21'], 'the de-identified record stays')
  t.equal(body.location.neighborhood, 'Downtown')
  assertAbsent(t, JSON.stringify(body), secretsOf(sent), 'the erased record')

  const row = await rawRow(incident.id)
  t.equal(row.personal_data, null, 'personal_data is NULL')
  t.equal(row.data_key, null, 'the data key is destroyed')
  t.ok((await auditActions(db, city.id, incident.id)).some((e) => e.action === 'incident.personal_data_erased'))
  const again = await app.inject({ method: 'DELETE', url: `/v1/incidents/${incident.id}/personal-data`, headers: bearer(city.steward) })
  t.equal(again.statusCode, 204, 'erasing again is harmless')
})

t.test('after erasure, re-importing the same report does not bring the personal data back, and PATCH cannot set it', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const incident = await createIncident(app, city.writer, sent)
  await app.inject({ method: 'DELETE', url: `/v1/incidents/${incident.id}/personal-data`, headers: bearer(city.steward) })

  const same = await postIncident(app, city.writer, sent)
  t.equal(same.statusCode, 200)
  t.equal(same.json().id, incident.id)
  const changed = await postBatch(app, city.writer, [{ ...withoutMarker(sent), summary: 'Re-imported with a new summary.' }])
  t.equal(changed.json().items[0].outcome, 'updated')
  const body = (await getIncident(app, city.personal, incident.id)).json()
  t.equal(body.summary, 'Re-imported with a new summary.', 'the de-identified fields do update')
  t.equal(body.personal_data, 'erased')
  t.equal(body.narrative ?? null, null)
  t.equal(body.reporter ?? null, null)
  const row = await rawRow(incident.id)
  t.equal(row.personal_data, null)
  t.equal(row.data_key, null)

  const etag = await etagOf(app, city.writer, incident.id)
  for (const patch of [{ narrative: 'New account' }, { reporter: { name: 'Someone' } }, { location: { address: '1 Main St' } }]) {
    const res = await patchIncident(app, city.writer, incident.id, etag, patch)
    t.equal(res.statusCode, 422, `PATCH ${Object.keys(patch)[0] ?? ''} after erasure`)
  }
  const ok = await patchIncident(app, city.writer, incident.id, etag, { location: { neighborhood: 'West Side' } })
  t.equal(ok.statusCode, 200, 'non-personal fields can still change')
  t.equal(ok.json().personal_data, 'erased')
})

t.test('a summary at its 4000-character limit made of contact details is stored scrubbed, not refused with a 5xx', async (t) => {
  const city = await cityWithKeys()
  const summary = 'a@b.io '.repeat(571).slice(0, 4000)
  const res = await postIncident(app, city.writer, report({ summary }))
  t.equal(res.statusCode, 201)
  t.notOk(res.json().summary.includes('a@b.io'), 'every address is removed although the text grew')
})

t.test('e-mail addresses and phone numbers typed into summary are removed on write; the rest is kept', async (t) => {
  const city = await cityWithKeys()
  const summary = 'Swastika painted on the wall of the community center in 2023. Call me at (203) 555-0187 or +1 203.555.0199, or write to jane.doe@example.org.'
  const incident = await createIncident(app, city.writer, report({ summary }))
  t.notOk(/555|jane\.doe|example\.org/.test(incident.summary), 'no contact detail is left')
  t.match(incident.summary, /^Swastika painted on the wall of the community center in 2023\. Call me at /)
  t.match(incident.summary, /\[contact details removed\]/)
  const stored = await query<{ summary: string }>(db, sql`SELECT summary FROM incidents WHERE id = ${incident.id}`)
  t.equal(stored[0]?.summary, incident.summary, 'what is stored is the scrubbed text')

  const patched = await patchIncident(app, city.writer, incident.id, await etagOf(app, city.writer, incident.id), { summary: 'Reach the witness on 2035550123 please.' })
  t.equal(patched.json().summary, 'Reach the witness on [contact details removed] please.', 'a PATCH is scrubbed too')
})

t.test('the idempotency store holds no plaintext personal data', async (t) => {
  const city = await cityWithKeys()
  const sent = personalReport()
  const headers = { 'idempotency-key': `idem-${sent.marker}` }
  const first = await postIncident(app, city.writer, sent, headers)
  t.equal(first.statusCode, 201)
  const replay = await postIncident(app, city.writer, sent, headers)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body, first.body)
  const rows = await query<{ whole: string }>(db, sql`SELECT k::text AS whole FROM idempotency_keys k WHERE city_id = ${city.id}`)
  t.equal(rows.length, 1)
  const secrets = secretsOf(sent).filter((s) => s !== sent.marker)
  assertAbsent(t, rows.map((r) => r.whole).join('\n'), secrets, 'idempotency_keys')
  assertAbsent(t, rows.map((r) => r.whole).join('\n'), secrets.map((s) => Buffer.from(s).toString('hex')), 'idempotency_keys (bytea hex)')
})

t.test('consent: include_in_statistics=false is stored and shown, and such incidents are left out of incident_statistics', async (t) => {
  const city = await cityWithKeys()
  const optedOut = await createIncident(app, city.writer, report({ consent: { include_in_statistics: false, contact_ok: true } }))
  t.same(optedOut.consent, { contact_ok: true, share_with_law_enforcement: false, include_in_statistics: false })
  const optedIn = await createIncident(app, city.writer, report())
  t.same(optedIn.consent, { contact_ok: false, share_with_law_enforcement: false, include_in_statistics: true }, 'statistics is the default')
  t.equal((await getIncident(app, city.reader, optedOut.id)).json().consent.include_in_statistics, false)
  const stored = await query<{ include_in_statistics: boolean }>(db, sql`SELECT include_in_statistics FROM incidents WHERE id = ${optedOut.id}`)
  t.equal(stored[0]?.include_in_statistics, false)

  const unfounded = await createIncident(app, city.writer, report())
  const duplicate = await createIncident(app, city.writer, report())
  for (const incident of [unfounded, duplicate]) {
    await patchIncident(app, city.writer, incident.id, await etagOf(app, city.writer, incident.id), { status: 'under_review' })
  }
  t.equal((await patchIncident(app, city.writer, unfounded.id, await etagOf(app, city.writer, unfounded.id), { status: 'unfounded' })).statusCode, 200)
  t.equal((await patchIncident(app, city.writer, duplicate.id, await etagOf(app, city.writer, duplicate.id), { status: 'duplicate', duplicate_of: optedIn.id })).statusCode, 200)

  const counted = await query<{ id: string }>(db, sql`SELECT id FROM incident_statistics WHERE city_id = ${city.id}`)
  t.same(counted.map((r) => r.id), [optedIn.id], 'only the opted-in, valid, original report is counted')
  for (const incident of [unfounded, duplicate]) {
    t.equal((await patchIncident(app, city.writer, incident.id, await etagOf(app, city.writer, incident.id), { status: 'closed' })).statusCode, 200)
  }
  const afterClosing = await query<{ id: string }>(db, sql`SELECT id FROM incident_statistics WHERE city_id = ${city.id}`)
  t.same(afterClosing.map((r) => r.id), [optedIn.id], 'closing an unfounded report or a duplicate does not bring it back into statistics')
  const listed = await app.inject({ method: 'GET', url: '/v1/incidents', headers: bearer(city.reader) })
  t.equal(listed.json().data.length, 4, 'the opted-out report is still handled and listed')
})

t.test('incident_statistics carries no personal column, only coarse coordinates', async (t) => {
  const columns = await query<{ column_name: string }>(db, sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'incident_statistics'`)
  const names = columns.map((c) => c.column_name)
  t.ok(names.includes('coarse_latitude') && names.includes('bias_motivations'))
  for (const personal of ['personal_data', 'data_key', 'include_in_statistics']) t.notOk(names.includes(personal), `no ${personal}`)
})

const withoutMarker = ({ marker: _marker, ...rest }: Report): Report => rest
