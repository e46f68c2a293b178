import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { loggerOptions } from '../../src/app.js'
import { deferredRequestLogger } from '../../src/lib/request-logger.js'
import { testConfig } from '../helper.js'

/** The production logger at a level, writing its lines into an array. */
function logger (level: string) {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done() } })
  return { parent: pino(loggerOptions(testConfig({ LOG_LEVEL: level })), stream), lines }
}

t.test('at warn, a request logger writes nothing below warn and binds the request id to what it writes', async (t) => {
  const { parent, lines } = logger('warn')
  const log = deferredRequestLogger(parent, { request_id: 'req-1' }, {})
  log.info({ status: 200 }, 'request completed')
  log.debug('details')
  t.same(lines, [], 'lines below the level are not written')
  t.equal(log.level, 'warn', 'the level is the parent\'s')
  t.equal((log as unknown as { isLevelEnabled: (level: string) => boolean }).isLevelEnabled('info'), false)
  log.warn({ attempt: 2 }, 'retrying')
  log.error(new Error('broken'), 'failed')
  t.equal(lines.length, 2)
  t.match(lines[0], { level: 40, request_id: 'req-1', attempt: 2, msg: 'retrying' })
  t.match(lines[1], { level: 50, request_id: 'req-1', msg: 'failed' })
  t.ok(lines[1]?.err !== undefined, 'the error goes through the production serializer')
  const child = log.child({ export: 'incidents' })
  child.warn('slow reader')
  t.match(lines[2], { request_id: 'req-1', export: 'incidents', msg: 'slow reader' }, 'a child keeps the request id')
  t.same((log as unknown as { bindings: () => unknown }).bindings(), { request_id: 'req-1' })
  t.same(parent.bindings(), {}, 'the parent is left as it was')
})

t.test('each request logger binds its own id, and the personal fields are still withheld', async (t) => {
  const { parent, lines } = logger('info')
  const first = deferredRequestLogger(parent, { request_id: 'a' }, {})
  const second = deferredRequestLogger(parent, { request_id: 'b' }, {})
  second.info('second')
  first.info({ reporter: { email: 'marker-3141@example.org' } }, 'first')
  t.match(lines, [{ request_id: 'b', msg: 'second' }, { request_id: 'a', msg: 'first' }])
  t.notOk(JSON.stringify(lines).includes('marker-3141'), 'the withheld member is not written')
})

t.test('a route with its own level gets a logger at that level at once', async (t) => {
  const { parent, lines } = logger('warn')
  const log = deferredRequestLogger(parent, { request_id: 'r' }, { level: 'debug' })
  log.debug('shown')
  t.match(lines, [{ level: 20, request_id: 'r', msg: 'shown' }])
})
