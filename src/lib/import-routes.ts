import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type, { type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import type { Executor } from '../db/client.js'
import { callerOf, type Caller } from '../plugins/auth.js'
import { IdempotencyKeyHeader } from '../plugins/idempotency.js'
import { actorOf } from './audit.js'
import { BATCH_MAX, BatchQuery, CONCURRENT, importItems, summaryOf, type Importable, type ImportResult, type StoredRecord } from './batch.js'
import { etagOf } from './etag.js'
import type { JsonObject } from './merge-patch.js'
import { ndjsonParser, NDJSON_TYPE } from './ndjson.js'
import { ProblemError } from './problems.js'
import { grants } from './scopes.js'
import { AUTHENTICATED, problemResponses, ref } from './schemas.js'
import { validatorCompiler } from './validation.js'

/** A batch of a thousand items with personal fields needs more than the default body size. */
export const BATCH_BODY_LIMIT = 16 * 1024 * 1024

/** Only the shape of a batch is checked up front; each item is validated on its own, so one bad item rejects only itself. */
const batchShape = Compile(Type.Array(Type.Unknown(), { minItems: 1, maxItems: BATCH_MAX }))

export interface BatchRoute<B extends JsonObject, R extends StoredRecord, D, P> {
  /**
   * The resource's import, made for the caller of the request; a resource nested under a parent (a survey's
   * responses) makes it from the request, and refuses there what the parent does not allow (404, 409).
   */
  resource: Importable<B, R, D, P> | ((request: FastifyRequest) => Promise<Importable<B, R, D, P>>)
  /** The route's path in the plugin: '/batch' by default, '/:id/responses/batch' under a parent. */
  path?: string
  /** The path parameters, with `path`. */
  params?: TSchema
  /** What an item sent again does, when it is not the JSON Merge Patch of an update (a record that never changes). */
  reimport?: string
  operationId: string
  tag: string
  summary: string
  description: string
  scope: string
  /** Scopes needed besides `scope` (the survey's definition, which a paper form's answers are checked against). */
  alsoNeeds?: string[]
  /** The item schema (registered with addSchema) and the answer's schema (BatchResult with its own $id). */
  item: TSchema
  result: TSchema
}

/**
 * The read scope a resource's batch needs besides its write scope: an import that checks what its items refer to
 * (a member's organisation, a tie's ends) merges into what it meets and answers by it, so it is never blind.
 * A resource without such checks (reports) is imported blind by a key without it (see Importable.readScope).
 */
const readsWhatItMeets = (resource: { readScope?: string, references?: unknown } | ((request: never) => unknown)): string[] =>
  // A resource made per request (a survey's responses) is not known here; its route names what it needs (alsoNeeds).
  typeof resource !== 'function' && resource.readScope !== undefined && resource.references !== undefined ? [resource.readScope] : []

/**
 * Registers `POST <prefix>/batch` for a resource: JSON arrays or NDJSON of up to 1,000 items, `dry_run`,
 * `atomic`, per-item outcomes, and the answer stored with the write for Idempotency-Key replays. A resource
 * hands over its Importable and its words; the route is the same for every resource.
 */
export function registerBatchRoute<B extends JsonObject, R extends StoredRecord, D, P> (app: FastifyInstance, route: BatchRoute<B, R, D, P>): void {
  if (!app.hasContentTypeParser(NDJSON_TYPE)) {
    // NDJSON: one item per line, as partners export them. A line that is not usable JSON becomes a rejected item.
    app.addContentTypeParser(NDJSON_TYPE, ndjsonParser({ maxItems: BATCH_MAX, bodyLimit: BATCH_BODY_LIMIT }))
  }
  app.post(route.path ?? '/batch', {
    bodyLimit: BATCH_BODY_LIMIT,
    validatorCompiler: (schema) => schema.httpPart === 'body'
      ? (value: unknown) => batchShape.Check(value) ? { value } : { error: [...batchShape.Errors(value)] as unknown as Error }
      : validatorCompiler(schema),
    schema: {
      operationId: route.operationId,
      tags: [route.tag],
      summary: route.summary,
      description: `${route.description} Each item is answered with its outcome (created, updated, unchanged, rejected) and its problems; ` +
        'bad items do not block good ones unless `atomic=true`. `dry_run=true` validates and writes nothing. Send `application/json` (an array) ' +
        'or `application/x-ndjson` (one item per line). ' + (route.reimport ?? 'An item sent again updates what is stored as a JSON Merge Patch: fields it omits keep ' +
        'their stored values, an explicit null clears one.'),
      security: [{ bearer: [route.scope, ...readsWhatItMeets(route.resource), ...route.alsoNeeds ?? []] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      ...(route.params !== undefined ? { params: route.params } : {}),
      querystring: BatchQuery,
      body: {
        content: {
          'application/json': { schema: Type.Array(ref(route.item), { minItems: 1, maxItems: BATCH_MAX }) },
          [NDJSON_TYPE]: { schema: Type.Array(ref(route.item), { minItems: 1, maxItems: BATCH_MAX, description: 'One item per line.' }) }
        }
      },
      response: { 200: ref(route.result), ...problemResponses(...AUTHENTICATED, ...(route.params !== undefined ? [404] : []), 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const resource = typeof route.resource === 'function' ? await route.resource(request) : route.resource
    const { atomic = false, dry_run: dryRun = false } = request.query as { atomic?: boolean, dry_run?: boolean }
    const answer = async (db: Executor, { items }: ImportResult<R>): Promise<string> => {
      // Items refused for a concurrent write are for the same request sent again: its key must not replay this.
      if (items.some((item) => item.problems.some((p) => p.message === CONCURRENT))) request.retryable = true
      return await reply.answerWithin(db, { dry_run: dryRun, summary: summaryOf(items), items })
    }
    return await answered(app, request, reply, answer, async (options) =>
      await importItems(app, callerOf(request), actorOf(request), resource, request.body as unknown[], {
        requireKey: true, atomic, dryRun, rejectedAs: 'unprocessable', pathOf: (index) => `body/${index}`, ...options
      }))
  })
}

/**
 * A record sent with its natural key (an external_id unique in the city) may meet a stored one, and the answer
 * (merged into it, or a 409) tells of it: a key that cannot read the resource is refused before anything is
 * looked up, for what it holds.
 */
export function refuseKeyWithoutRead (caller: Pick<Caller, 'scopes'>, key: string | null | undefined, kind: string, readScope: string): void {
  if (key == null || grants(caller.scopes, readScope)) return
  throw new ProblemError('forbidden', `Sending an external_id meets any stored ${kind} under it, and the answer tells of it, which needs ${readScope}; ` +
    'import through a batch operation, whose answer is an outcome, or send the object without it.')
}

/**
 * Creates (or, with a natural key, imports) one object from a POST body and answers it: 201 and Location when
 * created, 200 when an import updated or found it unchanged, with its ETag. The answer is stored in the write's
 * transaction for Idempotency-Key replays.
 */
export async function createOne<B extends JsonObject, R extends StoredRecord, D, P> (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply,
  resource: Importable<B, R, D, P>, options: {
    location: (id: string) => string
    read: (db: Executor, id: string) => Promise<R | undefined>
    present: (row: R) => unknown
    etag?: boolean
  }): Promise<FastifyReply> {
  const caller = callerOf(request)
  // An object sent with its natural key may meet a stored record and be answered with it, merged.
  if (resource.readScope !== undefined) refuseKeyWithoutRead(caller, resource.keyOf(request.body as B), resource.kind, resource.readScope)
  const answer = async (db: Executor, result: ImportResult<R>): Promise<string> => {
    const item = result.items[0]
    if (item?.id == null) throw new ProblemError('conflict', `The ${resource.kind} was being written concurrently; send it again.`, { retryable: true })
    // The row as written comes back from the write; an unchanged one is read as it is stored.
    const row = result.written[0]?.row ?? await options.read(db, item.id)
    if (row === undefined) throw new ProblemError('not_found', `No such ${resource.kind} in this city.`)
    reply.code(item.outcome === 'created' ? 201 : 200).header('location', options.location(row.id))
    // A record that is never changed (a survey response) has no version to match.
    if (options.etag !== false) reply.header('etag', etagOf(row.id, row.version))
    return await reply.answerWithin(db, options.present(row))
  }
  return await answered(app, request, reply, answer, async (answerOptions) =>
    await importItems(app, caller, actorOf(request), resource, [request.body], {
      requireKey: false, atomic: true, dryRun: false, rejectedAs: 'validation_failed', pathOf: () => 'body', returnRows: true, ...answerOptions
    }))
}

/**
 * Runs an import and sends its answer. With an Idempotency-Key, the answer is built and stored inside the
 * transaction of the last write; when nothing was written (or without a key) it is built afterwards.
 */
async function answered<R> (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply,
  answer: (db: Executor, result: ImportResult<R>) => Promise<string>,
  run: (options: { answer?: (tx: Executor, result: ImportResult<never>) => Promise<void> }) => Promise<ImportResult<R>>): Promise<FastifyReply> {
  let payload: string | undefined
  const result = await run(request.idempotency !== null ? { answer: async (tx, written) => { payload = await answer(tx, written as ImportResult<R>) } } : {})
  // The answer is JSON text already.
  return await reply.send((payload ?? await answer(app.db, result)) as never)
}
