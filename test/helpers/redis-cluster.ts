import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A loopback port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

/**
 * A throw-away Redis Cluster on loopback: `masters` redis-servers with `--cluster-enabled yes` (children of this
 * process, nothing persisted), joined by `redis-cli --cluster create … --cluster-replicas 0`. Rejects with the reason
 * when it cannot be formed (no redis-cli, a server that will not start, the cluster not ok in time).
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ari-recorder-cluster-'));
  const children: ChildProcess[] = [];
  const taken = new Set<number>();
  let problem: string | undefined;
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      taken.add(port).add(port + 10_000);
      ports.push(port);
    }
    for (const port of ports) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--logfile', join(dir, `${port}.log`));
      const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
      const child = spawn(bin, args, { stdio: 'ignore' });
      child.on('error', (err) => (problem ??= `${bin}: ${err.message}`));
      child.on('exit', (code) => (problem ??= `cluster node on ${port} exited with ${code}`));
      children.push(child);
    }
    for (const port of ports) await waitPong(port, join(dir, `${port}.log`), () => problem);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitClusterOk(ports);
    return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function waitPong(port: number, log: string, problem: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const p = problem();
    if (p) throw new Error(p);
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    try {
      await r.connect();
      if ((await r.ping()) === 'PONG') return;
    } catch {
      /* not yet */
    } finally {
      r.disconnect();
    }
    await sleep(50);
  }
  let tail = '';
  try {
    tail = readFileSync(log, 'utf8').slice(-300);
  } catch {
    /* no log */
  }
  throw new Error(`cluster node on ${port} did not start: ${tail}`);
}

/** Until every node says cluster_state:ok (the slots are spread and the nodes agree). */
async function waitClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    let ok = 0;
    for (const port of ports) {
      const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined);
      try {
        if (/cluster_state:ok/.test(await r.cluster('INFO'))) ok++;
      } catch {
        /* not yet */
      } finally {
        r.disconnect();
      }
    }
    if (ok === ports.length) return;
    if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok within 20 s');
    await sleep(100);
  }
}
