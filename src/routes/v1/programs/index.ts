import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { BatchResult } from '../../../lib/batch.js'
import { createOne, registerBatchRoute } from '../../../lib/import-routes.js'
import { applyMergePatch } from '../../../lib/merge-patch.js'
import { FEED_START, feedPageOf, feedPosition, pageOf } from '../../../lib/pagination.js'
import { ProblemError, type FieldError } from '../../../lib/problems.js'
import { AUTHENTICATED, IdParams, mergePatchBody, Page, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { registerDeleteRoute, registerReadRoute } from '../../../lib/resource-routes.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { IdempotencyKeyHeader } from '../../../plugins/idempotency.js'
import { KIND, programImports } from './imports.js'
import { toInput, toProgram } from './present.js'
import { deleteProgram, getProgram, listPrograms, PROGRAM_REFERENCES, providerProblems, replaceProgram, type ProgramPosition, type ProgramRow } from './repo.js'
import { prepareProgram } from './rules.js'
import { ProgramInputSchema, ProgramListQuery, ProgramPatchSchema, ProgramSchema } from './schema.js'

const TAG = 'programs'
const LIST = 'programs'
const EARLIEST_DAY = '1900-01-01'
const ProgramBatchResult = BatchResult('ProgramBatchResult')

const unknownProvider = (problems: FieldError[]): ProblemError =>
  new ProblemError('unprocessable', 'The provider is not a stakeholder of this city.', { errors: problems.map((p) => ({ ...p, path: `/body${p.path}` })) })

const programsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(ProgramSchema)
  app.addSchema(ProgramInputSchema)
  app.addSchema(ProgramBatchResult)
  const ProgramRef = ref(ProgramSchema)
  const imports = programImports()

  app.post('', {
    schema: {
      operationId: 'createProgram',
      tags: [TAG],
      summary: 'Add a program to the directory',
      description: 'The provider must be a stakeholder of the city (a 422 names it otherwise). With `external_id`, sending the same program ' +
        'again updates it (200) instead of creating another.',
      security: [{ bearer: ['stakeholders:write'] }],
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String(IdempotencyKeyHeader)) }),
      body: ref(ProgramInputSchema),
      response: { 200: withEtag(ProgramRef), 201: withEtag(ProgramRef), ...problemResponses(...AUTHENTICATED, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    return await createOne(app, request, reply, imports, {
      location: (id) => `/v1/programs/${id}`,
      read: async (db, id) => await getProgram(db, caller.cityId, id),
      present: toProgram
    })
  })

  registerBatchRoute(app, {
    resource: imports,
    operationId: 'importPrograms',
    tag: TAG,
    summary: 'Import up to 1,000 programs (JSON array or NDJSON)',
    description: 'Upserts on external_id: running the same import twice creates nothing new. An item whose provider is not a stakeholder of ' +
      'the city is rejected, with its path.',
    scope: 'stakeholders:write',
    item: ProgramInputSchema,
    result: ProgramBatchResult
  })

  app.get('', {
    schema: {
      operationId: 'listPrograms',
      tags: [TAG],
      summary: 'List the program directory',
      description: 'Filter by service type, language (`es` also finds `es-MX`), neighbourhood (programs naming no neighbourhood serve the ' +
        'whole city and are included), provider, whether active, or changes since a time.',
      security: [{ bearer: ['stakeholders:read'] }],
      querystring: ProgramListQuery,
      response: { 200: Page(ProgramRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request) => {
    const caller = callerOf(request)
    const { limit = 50, cursor, ...filter } = request.query
    if (filter.updated_since !== undefined && filter.updated_since.slice(0, 10) < EARLIEST_DAY) {
      const problem = { path: '/query/updated_since', message: `must be on or after ${EARLIEST_DAY}` }
      throw new ProblemError('validation_failed', `${problem.path} ${problem.message}`, { errors: [problem] })
    }
    const order = filter.order ?? 'name'
    const list = `${LIST}:${order}`
    const after = cursor !== undefined ? listPosition(order, app.cursors.decode(caller.cityId, list, cursor)) : undefined
    const rows = await listPrograms(app.db, caller.cityId, { ...filter, limit }, after)
    const encode = (position: unknown[]): string => app.cursors.encode(caller.cityId, list, position)
    const page = order === 'name'
      ? pageOf(rows, limit, (row) => [row.name, row.id], encode)
      : feedPageOf(rows, limit, (row) => [row.changeXid, row.id], encode, after?.order === 'updated_asc' ? [after.changeXid, after.id] : FEED_START)
    return { data: page.data.map(toProgram), next_cursor: page.next_cursor }
  })

  registerReadRoute(app, {
    operationId: 'getProgram',
    tag: TAG,
    kind: KIND,
    summary: 'Read a program',
    description: 'Answers an `ETag` for `PATCH`.',
    scope: 'stakeholders:read',
    response: ProgramRef,
    read: getProgram,
    present: toProgram
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateProgram',
      tags: [TAG],
      summary: 'Change a program, or archive it',
      description: 'Requires `If-Match`. `{"active": false}` archives a program, which is how one that incidents were referred to leaves the ' +
        'directory. A provider that is not a stakeholder of the city is a 422.',
      security: [{ bearer: ['stakeholders:read', 'stakeholders:write'] }],
      params: IdParams,
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(ProgramPatchSchema),
      response: { 200: withEtag(ProgramRef), ...problemResponses(...AUTHENTICATED, 404, 409, 412, 413, 415, 422, 428) }
    }
  }, async (request, reply) => {
    const { cityId } = callerOf(request)
    const patch = request.body
    const updated = await updateVersioned<ProgramRow>(app.db, request, reply, {
      what: KIND,
      objectType: KIND,
      action: (row) => patch.active === false && row.active ? `${KIND}.archived` : `${KIND}.updated`,
      read: async (tx) => await getProgram(tx, cityId, request.params.id),
      write: async (tx, row) => {
        const prepared = prepareProgram(applyMergePatch(toInput(row), patch))
        if (prepared.draft === null) {
          throw new ProblemError('validation_failed', 'The change would leave the program invalid.', { errors: prepared.problems.map((p) => ({ ...p, path: `/body${p.path}` })) })
        }
        if (patch.provider_id != null) {
          const [problems] = await providerProblems(tx, cityId, [prepared.draft])
          if (problems != null) throw unknownProvider(problems)
        }
        return await replaceProgram(tx, cityId, row.version, row.id, prepared.draft)
      }
    })
    return toProgram(updated)
  })

  registerDeleteRoute(app, {
    operationId: 'deleteProgram',
    tag: TAG,
    kind: KIND,
    summary: 'Delete a program entered by mistake',
    description: 'A program that incidents were referred to cannot be deleted (409 naming what refers to it): archive it with ' +
      'PATCH `{"active": false}` instead. Every deletion is audited.',
    scope: 'stakeholders:write',
    readScope: 'stakeholders:read',
    references: PROGRAM_REFERENCES,
    remove: deleteProgram
  })
}

function listPosition (order: string, position: unknown[]): ProgramPosition {
  if (order === 'updated_asc') return { order: 'updated_asc', ...feedPosition(position) }
  const [name, id] = position
  if (position.length !== 2 || typeof name !== 'string' || typeof id !== 'string' || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new ProblemError('invalid_cursor', 'The cursor is not one this list issued.')
  }
  return { order: 'name', name, id }
}

export default programsRoutes
