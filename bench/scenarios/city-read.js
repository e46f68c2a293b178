// city-read: GET /v1/city with the city's admin key, against the bare server reading the same row by primary
// key through a named prepared statement. It measures what Cohesion adds around the cheapest authenticated
// read there is (logging, helmet, rate limiting, authentication, validation, serialization), so its target
// is the one that shows the per-request cost of the stack. The probe checks that both answer the chosen city.
import { measureRequests } from '../harness.js'

export default {
  name: 'city-read',
  description: () => 'GET /v1/city, admin key: one row by primary key (bare: the same row through a named prepared statement)',
  // A log line per request is what users get at the default level; warn shows the rest of the stack.
  target: { default: 0.70, warn: 0.85 },
  unit: 'request',
  sliced: true,
  seeds: [],
  floorLabel: 'bare (Fastify + pg)',

  cohesion: (server, ctx) => measureRequests(ctx, server, {
    label: `city-read on ${server.label}`,
    request: { method: 'GET', path: '/v1/city', headers: { authorization: `Bearer ${ctx.fixtures.adminKey}` } },
    check: (body) => body.id === ctx.fixtures.cityId && body.slug === ctx.fixtures.citySlug
  }),

  floor: (server, ctx) => measureRequests(ctx, server, {
    label: `city-read on ${server.label}`,
    request: { method: 'GET', path: `/city/${ctx.fixtures.cityId}` },
    check: (body) => body.id === ctx.fixtures.cityId && body.slug === ctx.fixtures.citySlug
  }),

  roundTrips: [
    {
      name: 'GET /v1/city',
      async send (server, ctx) {
        const res = await fetch(`${server.url}/v1/city`, { headers: { authorization: `Bearer ${ctx.fixtures.adminKey}` } })
        const text = await res.text()
        if (res.status !== 200) throw new Error(`answered ${res.status}: ${text.slice(0, 300)}`)
      }
    }
  ]
}
