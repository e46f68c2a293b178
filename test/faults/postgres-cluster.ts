import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export interface CommandResult {
  /** The exit code, or null when the command was killed (by a signal or for outliving its timeout). */
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to its end and collects its output; it is killed when it outlives timeoutMs. */
export async function run (command: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 120_000)
    child.on('error', (err) => { clearTimeout(timer); reject(err) })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/**
 * The directory holding initdb and pg_ctl: pg_config's answer when it has them, else the newest version under
 * /usr/lib/postgresql (Debian and Ubuntu install the server there, where pg_config may belong to another
 * version, installed with libpq-dev).
 */
export function postgresBinDir (): string {
  const candidates: string[] = []
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' })
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim())
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((name) => /^\d+(\.\d+)?$/.test(name)).sort((a, b) => Number(b) - Number(a))
    candidates.push(...versions.map((version) => join(debian, version, 'bin')))
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
  if (found === undefined) {
    throw new Error(`no PostgreSQL server binaries (initdb, pg_ctl) found; looked in: ${candidates.join(', ') || 'nothing (no pg_config, no /usr/lib/postgresql)'}`)
  }
  return found
}

/** The uid and gid of a system user, from `id`. */
function userIds (user: string): { uid: number, gid: number } {
  const id = (flag: string): number => {
    const result = spawnSync('id', [flag, user], { encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`running as root, PostgreSQL must run as the "${user}" user, which does not exist: ${result.stderr.trim()}`)
    return Number(result.stdout.trim())
  }
  return { uid: id('-u'), gid: id('-g') }
}

/**
 * A PostgreSQL cluster of its own in a temporary directory, listening on 127.0.0.1 and a socket inside that
 * directory only, with trust authentication for the user `postgres`. It never touches the machine's own
 * server. initdb and postgres refuse to run as root: as root, they run as the `postgres` system user, which
 * then owns the directory.
 */
export class ThrowawayCluster {
  readonly dir: string
  readonly dataDir: string
  readonly logFile: string
  readonly binDir: string
  private readonly asRoot = process.getuid?.() === 0
  private destroyed = false

  constructor (readonly port: number) {
    this.binDir = postgresBinDir()
    this.dir = mkdtempSync(join(tmpdir(), 'cohesion-faults-'))
    this.dataDir = join(this.dir, 'data')
    this.logFile = join(this.dir, 'postgres.log')
    if (this.asRoot) {
      const { uid, gid } = userIds('postgres')
      chownSync(this.dir, uid, gid)
    }
  }

  /** A connection string for one of the cluster's databases. */
  url (database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  /** The command line that runs a PostgreSQL program as the cluster's owner. */
  private command (program: string, args: string[]): [string, string[]] {
    const binary = join(this.binDir, program)
    return this.asRoot ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args]
  }

  // The working directory is the cluster's own: the postgres user may not be allowed into the caller's.
  private async program (program: string, args: string[], timeoutMs = 120_000): Promise<CommandResult> {
    const [command, commandArgs] = this.command(program, args)
    const result = await run(command, commandArgs, { cwd: this.dir, timeoutMs })
    if (result.code !== 0) {
      throw new Error(`${program} ${args.join(' ')} failed (exit ${String(result.code)}):\n${result.stderr || result.stdout}\n${this.logTail()}`)
    }
    return result
  }

  // pg_ctl is always given -l: without it the postmaster would inherit pg_ctl's output pipes and hold them open.
  private pgCtl (...args: string[]): string[] {
    return ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', ...args]
  }

  /** Creates the cluster and starts it. */
  async start (): Promise<void> {
    await this.program('initdb', ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    // A throwaway cluster need not survive a power cut: fsync off makes it quicker. A fast restart still writes
    // a shutdown checkpoint, so nothing that was committed is lost across it.
    appendFileSync(join(this.dataDir, 'postgresql.conf'), [
      '',
      '# Written by the fault-injection harness.',
      `port = ${this.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${this.dir}'`,
      'fsync = off',
      ''
    ].join('\n'))
    await this.program('pg_ctl', this.pgCtl('start'))
  }

  /**
   * `pg_ctl stop -m fast`, then `start` after `downMs`: sessions are terminated, a checkpoint is written, and
   * the server stays away long enough for clients and probes to meet the outage, as in a real restart of a
   * busy server or a failover.
   */
  async restart (downMs: number): Promise<void> {
    await this.program('pg_ctl', this.pgCtl('-m', 'fast', 'stop'))
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await this.program('pg_ctl', this.pgCtl('start'))
  }

  async createDatabase (name: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.url('postgres') })
    await client.connect()
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
    } finally {
      await client.end()
    }
  }

  /** Whether a new connection to the database succeeds and answers a query within a second. */
  async answers (database = 'postgres'): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url(database), connectionTimeoutMillis: 1000, query_timeout: 1000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch {
      return false
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** The server's version, as pg_ctl reports it. */
  version (): string {
    const result = spawnSync(join(this.binDir, 'pg_ctl'), ['--version'], { encoding: 'utf8' })
    return result.stdout.trim()
  }

  /** The end of the server's log, for error messages. */
  logTail (lines = 20): string {
    if (!existsSync(this.logFile)) return ''
    return `PostgreSQL log (last lines):\n${readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`
  }

  /**
   * Stops the server (immediately: nothing in it is worth a checkpoint) and deletes the directory. Synchronous,
   * so that signal and exit handlers can run it; safe to call more than once.
   */
  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    const pidFile = join(this.dataDir, 'postmaster.pid')
    if (existsSync(pidFile)) {
      const [command, args] = this.command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'])
      const stopped = spawnSync(command, args, { cwd: this.dir, stdio: 'ignore', timeout: 40_000 })
      if (stopped.status !== 0 && existsSync(pidFile)) {
        // pg_ctl could not stop it: end the postmaster by the pid in its lock file, as `-m immediate` would.
        const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
        if (Number.isInteger(pid) && pid > 0) {
          try { process.kill(pid, 'SIGQUIT') } catch {}
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}
