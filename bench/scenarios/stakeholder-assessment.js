// stakeholder-assessment: GET /v1/stakeholder-network/assessment with a stakeholders:read key, in the chosen
// city at BENCH_STAKEHOLDERS stakeholders (2,000) and BENCH_RELATIONSHIPS relationships (20,000) across the
// categories (bench/data.js SEEDS.stakeholderNetwork), BENCH_ASSESSMENT_REQUESTS requests (30) one after the
// other after BENCH_ASSESSMENT_WARMUP (3). An assessment is a report, not a hot path: what matters is its
// latency and what it costs the server in memory, so there is no bare floor and no ratio. Target: every
// request within 2 s (p99 ≤ 2,000 ms).
//
// Printed: p50, p99 and mean latency; the server's resident memory before the requests, its peak during
// them (VmRSS of /proc/<pid>/status sampled every 10 ms) and the process's high-water mark since it started
// (VmHWM); the size of the answer and what it counted. The round trips per request are counted with the
// other operations' (three set-based reads: stakeholders, ties, attendance).
import { performance } from 'node:perf_hooks'
import { cpuMeter, fmt, InvalidMeasurement, memoryMb, percentile, positive } from '../harness.js'

const PATH = '/v1/stakeholder-network/assessment'
const TARGET_MS = 2000
const RSS_SAMPLE_MS = 10
const own = {
  requests: positive('BENCH_ASSESSMENT_REQUESTS', 30),
  warmup: positive('BENCH_ASSESSMENT_WARMUP', 3, { zero: true })
}

async function assess (server, ctx) {
  const res = await fetch(server.url + PATH, { headers: { authorization: `Bearer ${ctx.fixtures.stakeholderReadKey}` } })
  const text = await res.text()
  if (res.status !== 200) throw new InvalidMeasurement(`stakeholder-assessment on ${server.label}: answered ${res.status}: ${text.slice(0, 500)}`)
  return text
}

/** The answer counts the seeded network: most stakeholders active, most relationships current ties, ten brokers. */
function checked (text, settings, label) {
  const body = JSON.parse(text)
  const ok = body.legs?.length === 4 && body.stakeholders >= settings.stakeholders * 0.9 && body.ties >= settings.relationships * 0.7 &&
    body.brokers?.length === 10 && body.components?.count >= 1
  if (!ok) throw new InvalidMeasurement(`stakeholder-assessment on ${label}: unexpected answer: ${text.slice(0, 500)}`)
  return body
}

const runsOf = (ctx) => (ctx.fixtures.assessmentRuns ??= new Map())
const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length

export default {
  name: 'stakeholder-assessment',
  description: (settings) => `GET ${PATH}: ${fmt(settings.stakeholders, 0)} stakeholders and ${fmt(settings.relationships, 0)} relationships ` +
    `in one city, ${own.requests} requests one after the other (no floor: its own target, p99 ≤ ${fmt(TARGET_MS, 0)} ms)`,
  target: null,
  unit: 'request',
  seeds: ['stakeholderNetwork'],
  floorLabel: 'none',
  floor: null,

  async cohesion (server, ctx) {
    const { settings, database } = ctx
    const label = `stakeholder-assessment on ${server.label}`
    const body = checked(await assess(server, ctx), settings, label)
    process.stdout.write(`  ${label}: ${own.warmup} warm-up and ${own.requests} measured requests ... `)
    for (let i = 0; i < own.warmup; i++) await assess(server, ctx)

    const rssBefore = memoryMb(server.pid, 'VmRSS')
    let rssPeak = rssBefore
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS')) }, RSS_SAMPLE_MS)
    const meter = await cpuMeter(server.pid, database)
    const latencies = []
    let bytes = 0
    const started = performance.now()
    try {
      for (let i = 0; i < own.requests; i++) {
        const t0 = performance.now()
        bytes = Buffer.byteLength(await assess(server, ctx))
        latencies.push(performance.now() - t0)
      }
    } finally {
      clearInterval(sampler)
    }
    const seconds = (performance.now() - started) / 1000
    const cpu = await meter.stop()
    rssPeak = Math.max(rssPeak, memoryMb(server.pid, 'VmRSS'))
    const run = {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      mean: mean(latencies),
      rssBefore,
      rssPeak,
      hwm: memoryMb(server.pid, 'VmHWM'),
      bytes,
      counted: { stakeholders: body.stakeholders, ties: body.ties, components: body.components.count, isolated: body.isolated_stakeholders.count, share: body.brokers[0].share }
    }
    const runs = runsOf(ctx)
    if (!runs.has(server.label)) runs.set(server.label, [])
    runs.get(server.label).push(run)
    process.stdout.write(`p50 ${fmt(run.p50, 0)} ms, p99 ${fmt(run.p99, 0)} ms, peak RSS ${fmt(run.rssPeak, 0)} MB\n`)
    const n = latencies.length
    return {
      rate: n / seconds,
      p50: run.p50,
      p99: run.p99,
      units: n,
      requests: n,
      cpu: { server: cpu.server / n, postgres: cpu.postgres / n, load: cpu.load / n }
    }
  },

  notes (ctx) {
    const notes = []
    for (const [label, runs] of runsOf(ctx)) {
      const avg = (get) => mean(runs.map(get))
      const c = runs[0].counted
      notes.push({ ok: true, text: `${label}: latency p50 ${fmt(avg((r) => r.p50), 0)} ms, p99 ${fmt(avg((r) => r.p99), 0)} ms, mean ${fmt(avg((r) => r.mean), 0)} ms` })
      notes.push({
        ok: true,
        text: `${label}: server RSS ${fmt(avg((r) => r.rssBefore), 0)} MB before the requests, peak ${fmt(avg((r) => r.rssPeak), 0)} MB during them ` +
          `(VmRSS every ${RSS_SAMPLE_MS} ms), VmHWM since start ${fmt(avg((r) => r.hwm), 0)} MB`
      })
      notes.push({
        ok: true,
        text: `${label}: answer ${fmt(runs[0].bytes / 1024, 0)} kB: ${fmt(c.stakeholders, 0)} active stakeholders, ${fmt(c.ties, 0)} ties, ` +
          `${c.components} component(s), ${c.isolated} isolated, top broker's share ${fmt(c.share * 100, 1)} %`
      })
    }
    return notes
  },

  verdicts (ctx) {
    return [...runsOf(ctx)].map(([label, runs]) => {
      const p99 = mean(runs.map((r) => r.p99))
      return { label, figure: `p99 ${fmt(p99, 0)} ms`, target: `≤ ${fmt(TARGET_MS, 0)} ms`, met: p99 <= TARGET_MS }
    })
  },

  roundTrips: [
    {
      name: `GET ${PATH}`,
      async send (server, ctx) { await assess(server, ctx) }
    }
  ]
}
