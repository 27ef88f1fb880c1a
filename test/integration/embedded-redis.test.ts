import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive, readRedisPidFile, redisPidFile, redisServersOn, startRedis } from '../../src/embedded-redis.js';
import { connectTestRedis } from '../helpers/redis.js';
import { RedisKeys } from '../../src/store/keys.js';
import { RedisRecordingStore } from '../../src/store/redis-recording-store.js';
import { api, daemonEnv, startDaemon, waitForStatus, type DaemonProcess } from '../helpers/daemon.js';
import { startAriSimulator, type AriSimulator } from '../sim/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Alive and not a zombie: a killed orphan stays a zombie where pid 1 does not reap it (this machine's init). */
const alive = isAlive;

/** The recording as the daemon left it in its embedded Redis (its AOF), read with a server of our own on that dir. */
async function storedRecording(redisDir: string, id: string) {
  const server = await startRedis({ dir: redisDir, persist: true });
  const redis = await connectTestRedis(server.url);
  try {
    return await new RedisRecordingStore({ redis, keys: new RedisKeys('ari-recorder') }).get(id);
  } finally {
    await redis.quit();
    await server.stop();
  }
}

/**
 * The embedded redis-server of `make run` (issue 12): its own process group, so a terminal's Ctrl-C reaches only the
 * daemon, which hands its recordings over and stops Redis last; a pid file, so a start after `kill -9` reuses (or
 * stops) the orphan instead of starting a second server on the same AOF.
 */
describe('embedded redis-server', () => {
  let sim: AriSimulator;
  let dir: string;
  const daemons: DaemonProcess[] = [];

  beforeAll(async () => {
    sim = await startAriSimulator();
    dir = mkdtempSync(join(tmpdir(), 'ari-recorder-embedded-'));
  });
  afterAll(async () => {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill('SIGKILL');
        await d.exited;
      }
    }
    for (const sub of ['make', 'kill9']) for (const pid of redisServersOn(join(dir, sub, 'redis'))) process.kill(pid, 'SIGKILL');
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Ctrl-C on `make run` (SIGINT to its process group) during a recording: exits within 5 s, recording "shutdown", Redis stopped', async () => {
    // `make run` is `build native` then `node dist/src/main.js`. The build (tsc, ~20 s, and `npm ci` when package.json
    // changed) runs once here; make is then told those targets are up to date (-o), so what is timed is the run.
    const builtAt = Date.now();
    const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { encoding: 'utf8' });
    // Type errors elsewhere in the tree still emit JavaScript: the run below needs main.js fresh, not a clean tree.
    expect(statSync('dist/src/main.js').mtimeMs, tsc.stdout.slice(-2000)).toBeGreaterThanOrEqual(builtAt - 1000);

    const sub = join(dir, 'make');
    const { env, base } = await daemonEnv(sim, sub);
    const make = await startDaemon(base, env, {
      cmd: 'make',
      args: ['--no-print-directory', '-o', 'node_modules/.package-lock.json', '-o', 'build', '-o', 'native', 'run'],
      detached: true, // its own process group, as a shell gives a foreground job
      readyTimeoutMs: 90_000,
    });
    daemons.push(make);
    const redisDir = join(sub, 'redis');
    const redisPid = readRedisPidFile(redisDir)?.pid ?? -1;
    expect(redisServersOn(redisDir)).toEqual([redisPid]);

    const call = await sim.placeCall({ inSignal: { type: 'tone', freq: 440 } });
    const started = await api(base, 'POST', `/v1.0/calls/${call}/recording_start`, {});
    expect(started.status).toBe(200);
    const id = started.body.recording_id as string;
    await waitForStatus(base, id, 'recording');
    await sleep(500);

    const interruptedAt = Date.now();
    process.kill(-make.child.pid!, 'SIGINT'); // what the terminal does on Ctrl-C: the whole foreground group
    const exit = await make.exited;
    expect(exit.at - interruptedAt).toBeLessThan(5000);
    const out = make.output();
    expect(out).toMatch(/"signal":"SIGINT".*shutting down: stopping active recordings/);
    expect(out).toMatch(/ari-recorder stopped/);
    expect(out).not.toMatch(/shutdown step failed|ECONNREFUSED/);
    // Redis was stopped by the daemon, last, and its pid file went with it.
    expect(alive(redisPid)).toBe(false);
    expect(redisServersOn(redisDir)).toEqual([]);
    expect(existsSync(redisPidFile(redisDir))).toBe(false);

    const rec = await storedRecording(redisDir, id);
    expect(rec?.stop_reason).toBe('shutdown');
    expect(['stopping', 'available']).toContain(rec?.status);
  }, 300_000);

  it('after kill -9 of the daemon, the next start reuses the orphaned redis-server (pid file) or stops it: never two on one dir', async () => {
    const sub = join(dir, 'kill9');
    const redisDir = join(sub, 'redis');
    const { env, base } = await daemonEnv(sim, sub);
    const kill9 = async (d: DaemonProcess) => {
      d.child.kill('SIGKILL');
      await d.exited;
    };

    const first = await startDaemon(base, env);
    daemons.push(first);
    const orphan = readRedisPidFile(redisDir)!.pid;
    await kill9(first);
    await sleep(300);
    expect(alive(orphan)).toBe(true); // its own process group: nothing took it down with the daemon
    expect(redisServersOn(redisDir)).toEqual([orphan]);

    // The pid file names it and it answers as ours: reused.
    const second = await startDaemon(base, env);
    daemons.push(second);
    expect(redisServersOn(redisDir)).toEqual([orphan]);
    expect(readRedisPidFile(redisDir)?.pid).toBe(orphan);
    expect(second.output()).toMatch(/reusing the embedded redis-server a previous run left running/);
    // The store works on the reused server.
    const call = await sim.placeCall({ inSignal: { type: 'tone', freq: 440 } });
    expect((await api(base, 'GET', `/v1.0/calls/${call}`)).status).toBe(200);

    // An orphan without a usable pid file (lost, or left by an older version) is stopped, then a new one starts.
    await kill9(second);
    rmSync(redisPidFile(redisDir));
    const third = await startDaemon(base, env);
    daemons.push(third);
    const fresh = readRedisPidFile(redisDir)!.pid;
    expect(fresh).not.toBe(orphan);
    expect(alive(orphan)).toBe(false);
    expect(redisServersOn(redisDir)).toEqual([fresh]);
    expect(third.output()).toMatch(/stopping a redis-server left running on the embedded data dir/);

    // A clean stop takes the server down with the daemon, and its pid file.
    third.child.kill('SIGTERM');
    expect(await third.exited).toMatchObject({ code: 0, signal: null });
    expect(redisServersOn(redisDir)).toEqual([]);
    expect(existsSync(redisPidFile(redisDir))).toBe(false);
  }, 300_000);
});
