import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

/**
 * Validates with TypeBox's compiler. Bodies are checked exactly as sent (a string where a number belongs is
 * a 400, never silently converted); query strings, path parameters and headers arrive as text, so they are
 * converted to the declared types and given their defaults first.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const validator = Compile(schema)
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, Value.Default(schema, input))
    if (validator.Check(value)) return { value }
    return { error: [...validator.Errors(value)] as unknown as Error }
  }
}
