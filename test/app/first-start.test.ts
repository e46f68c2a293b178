import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort, startServer } from './server-process.js'

// A first start migrates a fresh embedded database: allow for a slow machine.
t.setTimeout(120_000)

t.test('a first start on a fresh embedded database answers its first request, sent as soon as it is ready, with 200', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cohesion-first-start-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const server = startServer({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: join(dir, 'data') })
  t.teardown(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGTERM')
    await server.exited
  })

  const deadline = Date.now() + 90_000
  while (!server.stdout().includes('cohesion is ready')) {
    if (server.child.exitCode !== null) t.fail(`the server exited: ${server.stderr()}`)
    if (Date.now() > deadline) throw new Error(`not ready in time:\n${server.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const key = /coh_[A-Za-z0-9_-]+/.exec(server.stdout())?.[0]
  t.ok(key, 'the demo city\'s admin key is printed')

  // Migrating the embedded database blocks the event loop for seconds; the load shedding, which samples the
  // loop's delay every second, must not take that start-up for an overload and turn the newcomer's first
  // requests away: a request every 25 ms for two sampling periods, every one answered.
  const statuses = new Map<number, number>()
  let slug: string | undefined
  const until = Date.now() + 2_000
  while (Date.now() < until) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/city`, { headers: { authorization: `Bearer ${key ?? ''}` } })
    slug = (await res.json() as { slug?: string }).slug
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    // Paced well inside the default allowance (600 a minute), so that only shedding could refuse one.
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  t.same([...statuses.keys()], [200], `every request after the start is answered (${JSON.stringify(Object.fromEntries(statuses))})`)
  t.equal(slug, 'demo')
})
