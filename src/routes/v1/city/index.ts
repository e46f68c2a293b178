import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { etagOf } from '../../../lib/etag.js'
import { invalidField, notFound, ProblemError } from '../../../lib/problems.js'
import { AUTHENTICATED, mergePatchBody, problemResponses, ref, withEtag } from '../../../lib/schemas.js'
import { updateVersioned } from '../../../lib/update.js'
import { callerOf } from '../../../plugins/auth.js'
import { getCity, readCity, toCity, updateCity } from './repo.js'
import { CityPatchSchema, CitySchema, isTimezone } from './schema.js'

const city: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(CitySchema)
  const CityRef = ref(CitySchema)

  app.get('', {
    schema: {
      operationId: 'getCity',
      tags: ['city'],
      summary: 'Read the caller\'s city',
      description: 'The city the API key belongs to. Any valid key may read it. Answers an `ETag` for `PATCH`.',
      security: [{ bearer: [] }],
      response: { 200: withEtag(CityRef), ...problemResponses(...AUTHENTICATED) }
    }
  }, async (request, reply) => {
    const city = await readCity(app.database, callerOf(request).cityId)
    if (city === undefined) throw notFound('city')
    reply.header('etag', etagOf(city.id, city.version))
    return city
  })

  app.patch('', {
    schema: {
      operationId: 'updateCity',
      tags: ['city'],
      summary: 'Change the caller\'s city',
      description: 'Changes name, population, timezone, languages or the small-cell threshold. Requires `If-Match` with the ETag of the last read. ' +
        'The city\'s settings shape every published figure, other sources\' reports included: an administrator\'s key limited to sources cannot change them (403).',
      security: [{ bearer: ['admin'] }],
      headers: Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 200, description: 'ETag of the last read. Required.' })) }),
      body: mergePatchBody(CityPatchSchema),
      response: { 200: withEtag(CityRef), ...problemResponses(...AUTHENTICATED, 412, 428) }
    }
  }, async (request, reply) => {
    const { cityId, sources } = callerOf(request)
    if (sources !== null) throw new ProblemError('forbidden', 'The city\'s settings (the small-cell threshold among them) shape every source\'s published figures; a key limited to sources cannot change them.')
    const patch = request.body
    if (patch.timezone !== undefined && !isTimezone(patch.timezone)) throw invalidField('/body/timezone', 'is not an IANA timezone')
    const row = await updateVersioned(app.db, request, reply, {
      what: 'city',
      objectType: 'city',
      action: () => 'city.updated',
      read: async (tx) => await getCity(tx, cityId),
      write: async (tx, current) => {
        const languages = patch.languages ?? current.languages
        const defaultLanguage = patch.default_language ?? current.defaultLanguage
        if (!languages.includes(defaultLanguage)) throw invalidField(patch.languages ? '/body/languages' : '/body/default_language', 'must include the default language')
        return await updateCity(tx, cityId, current.version, patch)
      }
    })
    app.forgetCity(cityId)
    return toCity(row)
  })
}

export default city
