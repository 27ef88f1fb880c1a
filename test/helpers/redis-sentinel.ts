import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/embedded-redis.js';
import { waitPong } from './redis-cluster.js';

export interface RedisSentinelHandle {
  sentinels: { host: string; port: number }[];
  /** the master's name the sentinels monitor */
  name: string;
  master: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * A master redis-server and one Sentinel monitoring it (`redis-server <conf> --sentinel`: Debian's redis-server
 * binary runs as a Sentinel), children of this process, on free loopback ports, nothing persisted but the sentinel's
 * own config (it rewrites it). Rejects with the reason when they cannot be started.
 */
export async function startRedisSentinel(name = 'recorder'): Promise<RedisSentinelHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ari-recorder-sentinel-'));
  const children: ChildProcess[] = [];
  let problem: string | undefined;
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const startChild = (args: string[], what: string) => {
    const child = spawn(bin, args, { stdio: 'ignore' });
    child.on('error', (err) => (problem ??= `${bin}: ${err.message}`));
    child.on('exit', (code) => (problem ??= `${what} exited with ${code}`));
    children.push(child);
  };
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const masterPort = await freePort();
    startChild(['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', join(dir, 'master.log')], 'master');
    await waitPong(masterPort, join(dir, 'master.log'), () => problem);
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, 'sentinel.log')}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'));
    startChild([conf, '--sentinel'], 'sentinel');
    await waitPong(sentinelPort, join(dir, 'sentinel.log'), () => problem);
    const s = new Redis({ host: '127.0.0.1', port: sentinelPort, maxRetriesPerRequest: 1 });
    try {
      const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', name)) as string[] | null;
      if (!addr || Number(addr[1]) !== masterPort) throw new Error(`the sentinel does not name the master: ${JSON.stringify(addr)}`);
    } finally {
      s.disconnect();
    }
    return { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name, master: { host: '127.0.0.1', port: masterPort }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
