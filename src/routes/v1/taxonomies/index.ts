import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { AUTHENTICATED, problemResponses, ref } from '../../../lib/schemas.js'
import { BIAS_MOTIVATIONS, LOCATION_TYPES, OFFENSE_TYPES, type Taxonomy } from '../../../taxonomies/index.js'

const TaxonomySchema = Type.Object({
  taxonomy: Type.String({ maxLength: 64 }),
  version: Type.String({ maxLength: 32, description: 'Incidents record the version they were coded under.' }),
  name: Type.String({ maxLength: 200 }),
  source: Type.String({ maxLength: 1000 }),
  rules: Type.Optional(Type.Object({
    max_per_offense: Type.Integer({ format: 'int32', minimum: 1, maximum: 10 }),
    no_duplicates: Type.Boolean(),
    exclusive_codes: Type.Array(Type.String({ maxLength: 3 }), { maxItems: 10 }),
    note: Type.String({ maxLength: 500 })
  }, { additionalProperties: false })),
  categories: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 100 }), { maxProperties: 20 })),
  codes: Type.Array(Type.Object({
    code: Type.String({ maxLength: 3 }),
    label: Type.String({ maxLength: 200 }),
    category: Type.Optional(Type.String({ maxLength: 64 })),
    added_in: Type.Optional(Type.String({ maxLength: 10, description: 'The year the code was added to the list.' }))
  }, { additionalProperties: false }), { maxItems: 200 })
}, { $id: 'Taxonomy', additionalProperties: false })

/** The classification lists, so portals can build their report forms from the same codes the API checks. */
const taxonomies: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(TaxonomySchema)
  const route = (path: string, operationId: string, summary: string, taxonomy: Taxonomy): void => {
    app.get(path, {
      schema: {
        operationId,
        tags: ['taxonomies'],
        summary,
        description: 'Any valid key may read it. The answer carries the list\'s version.',
        security: [{ bearer: [] }],
        response: { 200: ref(TaxonomySchema), ...problemResponses(...AUTHENTICATED) }
      }
    }, async () => taxonomy)
  }
  route('/bias-motivations', 'getBiasMotivations', 'NIBRS bias motivation codes (data element 8A) and their categories', BIAS_MOTIVATIONS)
  route('/offense-types', 'getOffenseTypes', 'NIBRS offense types covered by hate-crime statistics', OFFENSE_TYPES)
  route('/location-types', 'getLocationTypes', 'NIBRS location types most relevant to bias incidents (58 is cyberspace)', LOCATION_TYPES)
}

export default taxonomies
