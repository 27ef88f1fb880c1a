import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_TOKEN, daemonEnv } from '../helpers/daemon.js';
import { startAriSimulator, type AriSimulator } from '../sim/index.js';
import { testRedis } from '../helpers/redis.js';
import { decodeWav } from '../helpers/wav-decode.js';
import { goertzelDb } from '../helpers/audio-analysis.js';

const TOKEN = DAEMON_TOKEN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** kill -9 of the real daemon process during a recording, then a restart: the partial file is repaired and delivered. */
describe('crash recovery', () => {
  let sim: AriSimulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let base: string;
  let child: ChildProcess | undefined;

  async function startDaemon(): Promise<void> {
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (ok) return;
      if (child.exitCode !== null) throw new Error(`daemon exited: ${stderr}`);
      await sleep(100);
    }
    throw new Error(`daemon not ready: ${stderr}`);
  }

  beforeAll(async () => {
    sim = await startAriSimulator();
    dir = mkdtempSync(join(tmpdir(), 'ari-recorder-crash-'));
    const { url, prefix } = testRedis();
    // the daemon's environment as every daemon-process test builds it (test/helpers/daemon.ts), on the test Redis
    ({ env, base } = await daemonEnv(sim, dir, { REDIS_URL: url, REDIS_PREFIX: prefix, LOG_LEVEL: 'warn' }));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let crashedId = '';

  it('repairs the spool file after kill -9 and delivers it, at most ~1 s short, ending at its last audio', async () => {
    await startDaemon();
    const channelId = await sim.placeCall({ inSignal: { type: 'tone', freq: 440 }, outSignal: { type: 'tone', freq: 1000 } });
    const t0 = performance.now();
    const res = await fetch(`${base}/v1.0/calls/${channelId}/recording_start`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const id = ((await res.json()) as { recording_id: string }).recording_id;
    await sleep(3500 - (performance.now() - t0));
    const sentMs = performance.now() - t0;
    child!.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const killedAt = Date.now();
    crashedId = id;
    expect(readdirSync(join(dir, 'spool'))).toContain(`${id}.wav`);
    expect(sim.listChannels().some((c) => c.id.startsWith(`rec-${id}`))).toBe(true);

    // The restart comes well after the crash: tm_end must be the last audio, not the restart time.
    await sleep(2500);
    const restartAt = Date.now();
    await startDaemon();
    let rec: { status: string; duration_ms: number; stop_reason?: string; tm_start?: string; tm_end?: string } | undefined;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      rec = (await (await fetch(`${base}/v1.0/recordings/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as typeof rec;
      if (rec?.status === 'available') break;
      await sleep(200);
    }
    expect(rec?.status).toBe('available');
    expect(rec?.stop_reason).toBe('error');
    const file = await fetch(`${base}/v1.0/recordings/${id}/file`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const wav = decodeWav(new Uint8Array(await file.arrayBuffer()));
    expect(wav.sampleRate).toBe(8000);
    expect(wav.durationMs).toBeGreaterThan(sentMs - 1300);
    expect(wav.durationMs).toBeLessThanOrEqual(sentMs + 50);
    expect(goertzelDb(wav.samples.subarray(8000), 8000, 440)).toBeGreaterThan(-15);
    // tm_end = tm_start + the audio the file holds (the mixer writes the timeline from tm_start on, gaps as silence).
    const tmStart = Date.parse(rec!.tm_start!);
    const tmEnd = Date.parse(rec!.tm_end!);
    expect(Math.abs(tmEnd - (tmStart + wav.durationMs))).toBeLessThanOrEqual(100);
    expect(Math.abs(rec!.duration_ms - wav.durationMs)).toBeLessThanOrEqual(1);
    // …which is wall time: the last audio was recorded within the last flush interval (~1 s) before the kill
    expect(tmEnd).toBeLessThanOrEqual(killedAt);
    expect(tmEnd).toBeGreaterThan(killedAt - 1500);
    expect(tmEnd).toBeLessThan(restartAt - 2000);
    // What the dead daemon left in Asterisk was deleted by the new one.
    expect(sim.listChannels().filter((c) => c.id.startsWith('rec-'))).toEqual([]);
    expect(sim.listBridges().filter((b) => b.id.startsWith('rec-'))).toEqual([]);
  });

  it('at restart, a spool file left behind by a stored recording is removed; one no recording accounts for is kept', async () => {
    expect(crashedId).not.toBe('');
    const spool = join(dir, 'spool');
    // As if a crash hit between `available` and the delete of the spool file.
    const leftover = join(spool, `${crashedId}.wav`);
    const unknown = join(spool, `${randomUUID()}.wav`);
    const foreign = join(spool, 'notes.txt');
    for (const f of [leftover, unknown, foreign]) writeFileSync(f, 'x');
    child!.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    await startDaemon();
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(unknown)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
  });
});
