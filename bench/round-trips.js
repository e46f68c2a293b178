// SQL round trips per operation, counted from outside the server: a TCP proxy in this process sits between a
// Cohesion child and PostgreSQL and reads the frontend's message stream. After the startup packet (int32
// length, int32 protocol code, no type byte), every frontend message is one type byte and an int32 length
// that counts itself. A round trip is a 'Q' (simple query: BEGIN, COMMIT, a statement without parameters) or
// an 'S' (Sync, which ends each extended-protocol statement: Parse/Bind/Describe/Execute/Sync); node-postgres
// never pipelines, so each of them waits for the server's answer. Nothing in Cohesion is told it is counted.
import { createServer, connect } from 'node:net'
import { performance } from 'node:perf_hooks'
import { InvalidMeasurement, sleep } from './harness.js'

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104

/** Reads a frontend stream chunk by chunk (messages may span chunks) and counts message types in `counts`. */
function frontendParser (counts) {
  let startup = true
  let header = Buffer.alloc(0)
  let skip = 0
  return (chunk) => {
    let i = 0
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i)
        skip -= n
        i += n
        continue
      }
      const size = startup ? 8 : 5
      const take = Math.min(size - header.length, chunk.length - i)
      header = Buffer.concat([header, chunk.subarray(i, i + take)])
      i += take
      if (header.length < size) break
      if (startup) {
        const code = header.readInt32BE(4)
        // A TLS stream cannot be read here; the bench connects in plain text unless the URL asks otherwise.
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) counts.encrypted++
        else startup = false
        skip = header.readInt32BE(0) - 8
      } else {
        const type = String.fromCharCode(header[0])
        counts[type] = (counts[type] ?? 0) + 1
        skip = header.readInt32BE(1) - 4
      }
      header = Buffer.alloc(0)
    }
  }
}

/**
 * Listens on a free local port and forwards every connection to the database of `databaseUrl`. Answers the
 * URL to give the server (same database, through the proxy), the running count of round trips, and close().
 */
export async function startCountingProxy (databaseUrl) {
  const upstream = new URL(databaseUrl)
  const target = { host: upstream.hostname || '127.0.0.1', port: Number(upstream.port || 5432) }
  const counts = { Q: 0, S: 0, encrypted: 0 }
  const sockets = new Set()
  const server = createServer((client) => {
    const backend = connect(target)
    for (const socket of [client, backend]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => { client.destroy(); backend.destroy() })
    }
    client.on('data', frontendParser(counts))
    client.pipe(backend)
    backend.pipe(client)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const proxied = new URL(databaseUrl)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(server.address().port)
  return {
    url: proxied.toString(),
    counts,
    roundTrips: () => {
      if (counts.encrypted > 0) throw new InvalidMeasurement('round trips: Cohesion asked PostgreSQL for an encrypted connection, which the counting proxy cannot read; use a BENCH_DATABASE_URL without sslmode')
      return counts.Q + counts.S
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/** How long the server is left idle to measure its background round trips, and to let a request's tail land. */
const IDLE_MS = 2000
const SETTLE_MS = 100

/**
 * Counts the round trips of each operation against a server connected through `proxy`. Each operation's
 * `setup(server, ctx, count)` runs once, then `warmup` requests of every operation (caches, prepared
 * statements and the once-a-minute key bookkeeping happen there), then the idle server is watched for what
 * it does in the background. Then, operation by operation, `warmup` requests again (so that the key cache
 * is as fresh as under load) and `requests` requests one after the other, each a `send(server, ctx, state,
 * i)`; the idle rate over the same time is subtracted. Answers, per operation, the mean per request, the
 * simple queries among them, and the smallest and largest single request: a request that finds the key
 * cache expired (AUTH_CACHE_TTL_MS) makes one more; the mean includes it, the smallest shows the operation
 * without it.
 */
export async function countRoundTrips (server, ctx, proxy, operations, { requests, warmup }) {
  const prepared = []
  for (const op of operations) {
    const state = op.setup ? await op.setup(server, ctx, 2 * warmup + requests) : {}
    for (let i = 0; i < warmup; i++) await send(op, server, ctx, state, i)
    prepared.push({ op, state })
  }
  await sleep(SETTLE_MS)
  const idleStart = proxy.roundTrips()
  await sleep(IDLE_MS)
  const idlePerMs = (proxy.roundTrips() - idleStart) / IDLE_MS

  const results = []
  for (const { op, state } of prepared) {
    for (let i = warmup; i < 2 * warmup; i++) await send(op, server, ctx, state, i)
    await sleep(SETTLE_MS)
    const simple = proxy.counts.Q
    const started = performance.now()
    const first = proxy.roundTrips()
    const each = []
    for (let i = 2 * warmup; i < 2 * warmup + requests; i++) {
      const before = proxy.roundTrips()
      await send(op, server, ctx, state, i)
      each.push(proxy.roundTrips() - before)
    }
    await sleep(SETTLE_MS)
    const total = proxy.roundTrips() - first - idlePerMs * (performance.now() - started)
    results.push({
      name: op.name,
      perRequest: total / requests,
      simplePerRequest: (proxy.counts.Q - simple) / requests,
      min: Math.min(...each),
      max: Math.max(...each)
    })
  }
  return { results, idlePerSecond: idlePerMs * 1000 }
}

async function send (op, server, ctx, state, i) {
  try {
    await op.send(server, ctx, state, i)
  } catch (err) {
    throw new InvalidMeasurement(`round trips of ${op.name}, request ${i}: ${err.message}`)
  }
}
