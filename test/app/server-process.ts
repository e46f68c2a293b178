import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../..', import.meta.url))
export const serverEntry = fileURLToPath(new URL('../../src/server.ts', import.meta.url))

/**
 * The node arguments that run TypeScript: tap's own loader, found in this process's execArgv (or resolved
 * when run some other way). Tap's coverage and mock loaders are left out: the child is the product, not a test.
 */
function typescriptArgs (): string[] {
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'))
  return [...(loader.length > 0 ? loader : [`--import=${import.meta.resolve('@tapjs/typescript/import')}`]), '--enable-source-maps']
}

/** The environment of an operator's shell: none of tap's variables, no test database, no inherited settings. */
function childEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(TAP|_TAPJS|NODE_OPTIONS$|TEST_DATABASE_URL$)/.test(name)) continue
    out[name] = value
  }
  for (const name of ['PORT', 'HOST', 'DATABASE_URL', 'DATA_DIR', 'ENCRYPTION_KEY', 'BOOTSTRAP', 'LOG_LEVEL', 'CORS_ORIGINS']) delete out[name]
  // Type-checking the whole program on every start would take seconds; tap's own runs transpile only too.
  out.TS_NODE_TRANSPILE_ONLY = '1'
  return { ...out, ...env }
}

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or the signal's name) once the process has ended and its output is read. */
  exited: Promise<number | string | null>
}

/** Starts `src/server.ts` as `npm start` would run it, with only the given environment on top of the shell's. */
export function startServer (env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, [...typescriptArgs(), serverEntry], { cwd: root, env: childEnv(env), stdio: 'pipe' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('close', (code, signal) => { resolve(code ?? signal) })
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** A port that was free a moment ago: bound on port 0, read, released. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

/** Polls a URL until it answers 200, the process ends, or the time is up. */
export async function waitForOk (url: string, server: ServerProcess, timeoutMs: number): Promise<void> {
  let ended = false
  server.exited.then(() => { ended = true }, () => { ended = true })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (ended) throw new Error(`the server exited before ${url} answered:\n${server.stderr()}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (res.status === 200) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${server.stderr()}`)
}
