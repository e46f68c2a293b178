import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { freshDatabase, testConfig } from '../helper.js'
import { testDatabaseUrl } from '../template.js'
import { freePort, startServer, waitForOk, type ServerProcess } from './server-process.js'

// The process half starts the real server twice (on a fresh embedded database, or this file's own Postgres
// database under TEST_DATABASE_URL): allow for a slow machine.
t.setTimeout(240_000)

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A GET on its own connection (no pooled keep-alive socket), resolving with status and body. */
async function get (port: number, path: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Whether a TCP connection to the port is refused. */
async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => { socket.destroy(); resolve(false) })
    socket.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code === 'ECONNREFUSED') })
  })
}

t.test('app.close() lets an in-flight request finish with 200, then refuses new connections', async (t) => {
  const { database } = await freshDatabase(t)
  const app = await buildApp({ config: testConfig(), database }, false)
  let finished = false
  let markStarted = (): void => {}
  const started = new Promise<void>((resolve) => { markStarted = resolve })
  app.get('/test/slow', async () => {
    markStarted()
    await sleep(300)
    finished = true
    return { done: true }
  })
  t.teardown(async () => { await app.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  const inFlight = get(port, '/test/slow')
  // Close once the handler is surely running: a request not yet routed when close begins is answered 503.
  await started
  await sleep(50)
  t.notOk(finished, 'the request is still running when close begins')
  const closing = app.close()
  const res = await inFlight
  t.equal(res.status, 200, 'the in-flight request completes')
  t.same(JSON.parse(res.body), { done: true })
  t.ok(finished, 'its handler ran to the end')
  await closing
  t.ok(await refused(port), 'a new connection after close is refused')
})

/** Sends SIGTERM and resolves with the exit code, or fails the test if the process outlives the deadline. */
async function terminate (t: Test, server: ServerProcess, withinMs: number): Promise<number | string | null> {
  const started = Date.now()
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => { server.child.kill('SIGKILL') }, withinMs)
  const code = await server.exited
  clearTimeout(timer)
  t.ok(Date.now() - started < withinMs, `exits within ${withinMs / 1000} s of SIGTERM (${Date.now() - started} ms)`)
  return code
}

const KEY = /coh_[A-Za-z0-9_-]+/g

t.test('the server process bootstraps one admin key once, serves it, and exits 0 on SIGTERM', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cohesion-shutdown-test-'))
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }) })

  const port = await freePort()
  const env: Record<string, string> = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }
  if (testDatabaseUrl() !== undefined) {
    // On Postgres the process gets this file's own fresh database, with bootstrap asked for explicitly.
    const { database, url } = await freshDatabase(t)
    await database.close()
    Object.assign(env, { DATABASE_URL: url ?? '', ENCRYPTION_KEY: randomBytes(32).toString('base64'), BOOTSTRAP: 'true' })
  }
  const first = startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  await waitForOk(`http://127.0.0.1:${port}/health/ready`, first, 90_000)

  const keys = [...new Set(first.stdout().match(KEY) ?? [])]
  t.equal(keys.length, 1, 'exactly one key is printed on the first start')
  const key = keys[0] ?? ''
  const logLines = first.stdout().split('\n').filter((line) => line.startsWith('{'))
  t.ok(logLines.length > 0, 'the server logs JSON lines')
  t.notOk(logLines.some((line) => line.includes(key)), 'the key is printed, never logged')

  const city = await fetch(`http://127.0.0.1:${port}/v1/city`, { headers: { authorization: `Bearer ${key}` } })
  t.equal(city.status, 200, 'the printed key reads GET /v1/city')
  t.equal((await city.json() as { slug: string }).slug, 'demo')

  t.equal(await terminate(t, first, 10_000), 0, 'exits with code 0')
  t.ok(await refused(port), 'it no longer listens')
  t.match(first.stdout(), /closing/, 'it logged that it was closing')

  const second = startServer(env)
  t.teardown(() => { second.child.kill('SIGKILL') })
  await waitForOk(`http://127.0.0.1:${port}/health/ready`, second, 90_000)
  t.notMatch(second.stdout(), KEY, 'no key is printed on the second start: bootstrap happens once')
  const again = await fetch(`http://127.0.0.1:${port}/v1/city`, { headers: { authorization: `Bearer ${key}` } })
  t.equal(again.status, 200, 'the key from the first start still works: data and encryption key were kept')
  t.equal(await terminate(t, second, 10_000), 0, 'the second run exits with code 0 too')
  t.equal(second.stderr(), '', 'nothing went to stderr')
})
