import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** A free TCP port on loopback, picked by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface RedisHandle {
  url: string;
  port: number;
  /** The redis-server process. */
  pid: number;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  dir: string;
  persist: boolean;
  bin?: string;
  port?: number;
  /**
   * Its own process group (and session): a terminal's Ctrl-C (SIGINT to the foreground group) does not reach it, so
   * the daemon stops it last, after the recordings are handed over. Without it, it dies with the group (tests).
   */
  detached?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts Debian's redis-server on a free loopback port (for `make run` without REDIS_URL, and for tests).
 * `persist` keeps an append-only file in `dir` so recording state survives a restart; without it nothing is
 * written to disk. BullMQ needs `noeviction`. Its log goes to `dir/redis-server.log`.
 */
export async function startRedis(opts: StartRedisOptions): Promise<RedisHandle> {
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const log = join(opts.dir, 'redis-server.log');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', opts.dir, '--maxmemory-policy', 'noeviction', '--save', ''];
  args.push('--appendonly', opts.persist ? 'yes' : 'no', '--logfile', log);
  const child = spawn(opts.bin ?? process.env.REDIS_SERVER_BIN ?? 'redis-server', args, { stdio: 'ignore', detached: opts.detached ?? false });
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => {
      gone = true;
      reject(new Error(`redis-server could not be started (${err.message}); install it (apt-get install redis-server) or set REDIS_URL`));
    });
    void exited.then((code) => {
      gone = true;
      reject(new Error(`redis-server exited with ${code}: ${tail(log)}`));
    });
  });
  failed.catch(() => undefined);
  try {
    await Promise.race([failed, waitReady(port, child.pid ?? -1, 30_000, log, () => gone)]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pid = child.pid!;
  let stopped: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        // SIGTERM: redis flushes its AOF and exits; one that does not within 20 s is killed.
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      })()),
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-500);
  } catch {
    return '';
  }
}

/** Until the redis-server `pid` answers PONG on `port` (a server still loading its AOF is waited for). */
async function waitReady(port: number, pid: number, timeoutMs: number, log: string, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone()) throw new Error(`redis-server ${pid} is gone: ${tail(log)}`);
    const p = await probe(port, 1000);
    // Another server on the port (a race for it) is not ours: its own exit (bind failed) reports the error.
    if (p && p.pid === pid && p.ready) return;
    await sleep(p?.pid === pid ? 100 : 30);
  }
  throw new Error(`redis-server did not start within ${timeoutMs / 1000} s: ${tail(log)}`);
}

interface Probe {
  pid: number;
  dir: string;
  /** false while it loads its dataset */
  ready: boolean;
}

/** Who answers on 127.0.0.1:`port`: its process id and data dir (INFO and CONFIG answer even while loading). */
async function probe(port: number, timeoutMs: number): Promise<Probe | null> {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const [pong, info, dir] = await Promise.all([
      r.ping().catch((err: Error) => err.message),
      r.info('server'),
      r.config('GET', 'dir') as Promise<string[]>,
    ]);
    return { pid: Number(/^process_id:(\d+)/m.exec(info)?.[1] ?? -1), dir: dir[1] ?? '', ready: pong === 'PONG' };
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

/** Alive and not a zombie (a zombie still answers kill 0: an orphan's zombie lingers where pid 1 does not reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (not Linux): kill 0 is all we know
  }
}

/** SIGTERM, then SIGKILL if it is still there after `timeoutMs`; resolves once it is gone. */
async function terminate(pid: number, timeoutMs: number): Promise<void> {
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone already */
    }
  };
  kill('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      kill('SIGKILL');
      await sleep(100);
      if (!isAlive(pid)) return;
      throw new Error(`redis-server ${pid} does not stop`);
    }
    await sleep(50);
  }
}

/**
 * The redis-server processes whose data dir (their working directory: redis chdirs to `--dir`) is `dir`, found in
 * /proc (Linux; elsewhere none are found). Ours only: other users' processes are not readable.
 */
export function redisServersOn(dir: string): number[] {
  let want: string;
  try {
    want = realpathSync(dir);
  } catch {
    return [];
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').trim() !== 'redis-server') continue;
      if (readlinkSync(`/proc/${e}/cwd`) !== want) continue;
      if (isAlive(Number(e))) found.push(Number(e));
    } catch {
      /* gone meanwhile, or not ours */
    }
  }
  return found;
}

interface PidFile {
  pid: number;
  port: number;
  dir: string;
}

/** The embedded server's pid file, next to its data dir (`var/redis` → `var/redis.pid`). */
export function redisPidFile(dir: string): string {
  return `${dir.replace(/\/+$/, '')}.pid`;
}

export function readRedisPidFile(dir: string): PidFile | null {
  try {
    const v = JSON.parse(readFileSync(redisPidFile(dir), 'utf8')) as Partial<PidFile>;
    return Number.isInteger(v.pid) && Number.isInteger(v.port) ? { pid: v.pid!, port: v.port!, dir: String(v.dir ?? '') } : null;
  } catch {
    return null;
  }
}

/**
 * The daemon's own Redis when REDIS_URL is unset (`make run`): persistent (AOF in `dir`), in its own process group,
 * with a pid file next to `dir`. A redis-server a previous run left behind (the daemon was killed with -9) is found
 * by that file and reused when it answers as ours (its pid, on our data dir); any other redis-server still running on
 * `dir` is stopped first. Never two servers on one append-only file. stop() stops it, adopted or not.
 */
export async function startEmbeddedRedis(opts: { dir: string; logger?: Logger; bin?: string }): Promise<RedisHandle & { reused: boolean }> {
  mkdirSync(opts.dir, { recursive: true });
  const dir = realpathSync(opts.dir);
  const pidFile = redisPidFile(dir);
  const log = opts.logger;

  const prev = readRedisPidFile(dir);
  if (prev && isAlive(prev.pid)) {
    const p = await probe(prev.port, 2000);
    if (p && p.pid === prev.pid && p.dir === dir) {
      log?.warn({ redis_pid: prev.pid, port: prev.port, dir }, 'reusing the embedded redis-server a previous run left running (that run did not stop: kill -9?)');
      if (!p.ready) await waitReady(prev.port, prev.pid, 60_000, join(dir, 'redis-server.log'), () => !isAlive(prev.pid));
      let stopped: Promise<void> | undefined;
      return {
        url: `redis://127.0.0.1:${prev.port}`,
        port: prev.port,
        pid: prev.pid,
        reused: true,
        stop: () =>
          (stopped ??= (async () => {
            await terminate(prev.pid, 20_000);
            rmSync(pidFile, { force: true });
          })()),
      };
    }
  }
  for (const pid of redisServersOn(dir)) {
    log?.warn({ redis_pid: pid, dir }, 'stopping a redis-server left running on the embedded data dir (no usable pid file)');
    await terminate(pid, 20_000);
  }
  rmSync(pidFile, { force: true });

  const h = await startRedis({ dir, persist: true, bin: opts.bin, detached: true });
  const tmp = `${pidFile}.tmp`;
  writeFileSync(tmp, JSON.stringify({ pid: h.pid, port: h.port, dir } satisfies PidFile) + '\n');
  renameSync(tmp, pidFile);
  return {
    ...h,
    reused: false,
    stop: async () => {
      await h.stop();
      if (existsSync(pidFile) && readRedisPidFile(dir)?.pid === h.pid) rmSync(pidFile, { force: true });
    },
  };
}
