/**
 * JSON Merge Patch (RFC 7396), the meaning of every PATCH body and of every import that updates a stored
 * record: a member of the patch replaces the target's member, a nested object merges member by member, and
 * `null` removes the member. Arrays and scalars replace whole. Members the patch does not name are kept.
 */
export type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value)

/** The target with the patch applied; neither argument is changed. */
export function applyMergePatch<T extends JsonObject> (target: T, patch: JsonObject): T {
  const out: JsonObject = { ...target }
  // A JSON object's members are its own: for...in walks them without an array of pairs per object.
  for (const name in patch) {
    const value = patch[name]
    if (value === null) delete out[name]
    else if (isObject(value)) out[name] = applyMergePatch(isObject(out[name]) ? out[name] : {}, value)
    else out[name] = value
  }
  return out as T
}

/** The dotted paths a patch sets or removes (`location.address`), for audit events: names only, never values. */
export function patchedPaths (patch: JsonObject, prefix = '', into: string[] = []): string[] {
  for (const name in patch) {
    const value = patch[name]
    if (isObject(value) && Object.keys(value).length > 0) patchedPaths(value, `${prefix}${name}.`, into)
    else into.push(prefix + name)
  }
  return into
}

/**
 * The dotted paths whose values differ between two inputs: nested objects are compared member by member,
 * arrays and scalars whole. Names only, for audit events.
 */
export function changedPaths (before: JsonObject, after: JsonObject, prefix = '', into: string[] = []): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)])
  for (const name of names) {
    const was = before[name]
    const is = after[name]
    if (isObject(was) || isObject(is)) changedPaths(isObject(was) ? was : {}, isObject(is) ? is : {}, `${prefix}${name}.`, into)
    else if (JSON.stringify(was) !== JSON.stringify(is)) into.push(prefix + name)
  }
  return into
}

/** Whether a dotted path is one of `fields`, or inside one of them. */
export const isWithin = (path: string, fields: readonly string[]): boolean =>
  fields.some((field) => path === field || path.startsWith(`${field}.`))

/** The media types a PATCH body may be sent as: merge-patch is what it means, plain JSON is accepted too. */
export const MERGE_PATCH_TYPE = 'application/merge-patch+json'
