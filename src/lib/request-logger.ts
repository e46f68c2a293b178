import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

const BINDINGS = Symbol('bindings')
const CHILD = Symbol('child')

interface Deferred { [BINDINGS]: Bindings, [CHILD]?: FastifyBaseLogger }

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
const prototypes = new WeakMap<FastifyBaseLogger, FastifyBaseLogger>()

/**
 * The prototype of a parent's request loggers: the parent itself for the levels it does not write (pino has
 * made those methods no-ops), and, for those it writes, methods that make the real child — the parent with the
 * request id bound — on the first line and write through it.
 */
function deferredPrototype (parent: FastifyBaseLogger): FastifyBaseLogger {
  let prototype = prototypes.get(parent)
  if (prototype !== undefined) return prototype
  const child = (logger: Deferred): FastifyBaseLogger => (logger[CHILD] ??= parent.child(logger[BINDINGS]))
  const methods: PropertyDescriptorMap = {
    child: { value: function (this: Deferred, bindings: Bindings, options?: ChildLoggerOptions) { return child(this).child(bindings, options) } },
    bindings: { value: function (this: Deferred) { return (child(this) as unknown as { bindings: () => Bindings }).bindings() } }
  }
  const written = (parent as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.bind(parent) ?? (() => true)
  for (const level of LEVELS) {
    if (!written(level)) continue
    methods[level] = { value: function (this: Deferred, ...args: unknown[]) { (child(this)[level] as (...a: unknown[]) => void)(...args) } }
  }
  prototype = Object.create(parent, methods) as FastifyBaseLogger
  prototypes.set(parent, prototype)
  return prototype
}

/**
 * Fastify's childLoggerFactory: every request gets its own logger with its request id bound, but a pino child
 * costs a serialization of its bindings, and at LOG_LEVEL=warn most requests never write a line. This one
 * makes the child only when a line at a written level is logged (or a child asked for); until then, a request's
 * logger is one small object. A route with its own level or serializers gets its child at once.
 */
export function deferredRequestLogger (parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (Object.keys(options).length > 0) return parent.child(bindings, options)
  const logger = Object.create(deferredPrototype(parent)) as Deferred
  logger[BINDINGS] = bindings
  return logger as unknown as FastifyBaseLogger
}
