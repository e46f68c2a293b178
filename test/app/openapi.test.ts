import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import t from 'tap'
import { parse } from 'yaml'
import { makeCityWithKey } from '../factories.js'
import { build } from '../helper.js'
import { allKeyNames, cityBanner, issuePartnerKey, portalClient, setPopulation } from '../client/portal-example.js'

const root = new URL('../../', import.meta.url)
const committedJson = JSON.parse(readFileSync(new URL('openapi/openapi.json', root), 'utf8')) as Record<string, unknown>
const { app, database } = await build(t)

t.test('the committed openapi/openapi.json and .yaml are what the app serves (run `npm run openapi` after changing routes)', async (t) => {
  const served = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(served.statusCode, 200)
  t.same(served.json(), committedJson, 'openapi.json is current')
  const yaml = await app.inject({ method: 'GET', url: '/openapi.yaml' })
  t.equal(yaml.statusCode, 200)
  t.same(parse(readFileSync(new URL('openapi/openapi.yaml', root), 'utf8')), committedJson, 'openapi.yaml is current')
  t.same(parse(yaml.body), committedJson)
})

t.test('every operation has an operationId, a tag, a summary, its security and a 500 problem response', async (t) => {
  const paths = committedJson.paths as Record<string, Record<string, Record<string, unknown>>>
  const ids = new Set<string>()
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const where = `${method.toUpperCase()} ${path}`
      t.type(op.operationId, 'string', `${where} has an operationId`)
      t.notOk(ids.has(op.operationId as string), `${where} operationId is unique`)
      ids.add(op.operationId as string)
      t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${where} is tagged`)
      t.type(op.summary, 'string', `${where} has a summary`)
      t.ok(Array.isArray(op.security), `${where} declares security`)
      const responses = op.responses as Record<string, { content?: Record<string, unknown> }>
      t.ok(responses['500']?.content?.['application/problem+json'], `${where} documents its 500 problem`)
      if (path.startsWith('/v1/')) {
        t.ok(responses['401'] && responses['403'] && responses['429'], `${where} documents 401, 403 and 429`)
      }
    }
  }
  const scheme = (committedJson.components as { securitySchemes: { bearer: { description: string } } }).securitySchemes.bearer
  for (const scope of ['admin', 'incidents:read_personal', 'stakeholders:read_contact', 'surveys:read_responses', 'exports:read']) {
    t.match(scheme.description, `\`${scope}\``, `the bearer scheme lists ${scope}`)
  }
})

t.test('/docs serves the interactive reference', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
})

t.test('a portal client generated from the committed spec type-checks and works against the running API', async (t) => {
  const generated = new URL('test/client/generated/', root)
  mkdirSync(generated, { recursive: true })
  const ast = await openapiTS(committedJson as never)
  writeFileSync(new URL('cohesion-api.d.ts', generated), astToString(ast))
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', new URL('test/client/tsconfig.json', root).pathname])
    .then(() => ({ ok: true, output: '' }), (err: { stdout?: string }) => ({ ok: false, output: err.stdout ?? String(err) }))
  t.ok(result.ok, `the portal example type-checks against the contract${result.ok ? '' : `:\n${result.output}`}`)

  const city = await makeCityWithKey(database.db)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const client = portalClient(address, city.key)
  t.match(await cityBanner(client), /^City city-[0-9a-f]+ \(en\)$/)
  t.equal(await setPopulation(client, 135_470), 135_470)
  const first = await issuePartnerKey(client, 'ngo-aapi-coalition', 'issue-1')
  const replay = await issuePartnerKey(client, 'ngo-aapi-coalition', 'issue-1')
  t.same(replay, first, 'a retried create replays the first response')
  await issuePartnerKey(client, 'resident-portal', 'issue-2')
  t.same((await allKeyNames(client)).sort(), ['Imports from ngo-aapi-coalition', 'Imports from resident-portal', 'test key'])
})
