import type { RouteOptions } from 'fastify'

type HookName = 'onRequest' | 'preParsing' | 'preValidation' | 'preHandler' | 'onSend' | 'onResponse'

/**
 * Adds a hook to one route, after the hooks it already has: for plugins that attach their work from an
 * `onRoute` hook only to the routes that need it, so that no other request pays for it.
 */
export function addRouteHook (route: RouteOptions, name: HookName, hook: (...args: never[]) => unknown): void {
  const current = route[name] as unknown
  const hooks = current === undefined ? [] : Array.isArray(current) ? current : [current]
  ;(route as unknown as Record<HookName, unknown>)[name] = [...hooks, hook]
}
