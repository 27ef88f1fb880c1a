import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { readWavFile } from '../helpers/wav-decode.js';
import { expectTones } from '../e2e/audio-checks.js';

/**
 * The processes whose environment holds `DEMO_TEST_MARK=<mark>`: whatever a command started, its children and
 * theirs inherit it, even after they are re-parented (a process left behind no longer descends from anything).
 */
function processesMarked(mark: string): number[] {
  const needle = Buffer.from(`\0DEMO_TEST_MARK=${mark}\0`);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${name}/environ`)]);
      if (env.includes(needle)) found.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

function run(cmd: string, args: string[], mark: string): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  let out = '';
  const child = spawn(cmd, args, { cwd: process.cwd(), env: { ...process.env, DEMO_TEST_MARK: mark }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('try it without Asterisk', () => {
  const marks: string[] = [];
  const dirs: string[] = [];
  afterAll(() => {
    // a failed test must not leave its processes running either
    for (const m of marks) for (const pid of processesMarked(m)) process.kill(pid, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('npm run sim -- --port <free> answers GET /ari/asterisk/info with the given credentials and exits on SIGTERM', async () => {
    const mark = randomUUID();
    marks.push(mark);
    const port = await freePort();
    const sim = run('npm', ['run', 'sim', '--', '--port', String(port), '--user', 'newcomer', '--password', 's3cret-pw', '--app', 'demo-app'], mark);
    const until = Date.now() + 30_000;
    while (!sim.out().includes('listening on') && Date.now() < until && sim.child.exitCode === null) await sleep(100);
    expect(sim.out()).toContain(`ARI simulator listening on http://127.0.0.1:${port}/ari (app demo-app, user newcomer`);

    const info = await fetch(`http://127.0.0.1:${port}/ari/asterisk/info`, {
      headers: { authorization: `Basic ${Buffer.from('newcomer:s3cret-pw').toString('base64')}` },
    });
    expect(info.status).toBe(200);
    expect(((await info.json()) as { system: { version: string } }).system.version).toBe('22.10.1');
    const wrong = await fetch(`http://127.0.0.1:${port}/ari/asterisk/info`, { headers: { authorization: `Basic ${Buffer.from('newcomer:nope').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    // the simulator itself (not only npm) carries the mark: the check below can see what would be left behind
    expect(processesMarked(mark).length).toBeGreaterThanOrEqual(2);

    sim.child.kill('SIGTERM'); // npm's process, as a supervisor would
    await within(10_000, sim.exit, 'npm run sim exits on SIGTERM');
    expect(sim.out()).toContain('ARI simulator stopped (SIGTERM)');
    await within(5000, (async () => { while (processesMarked(mark).length) await sleep(100); })(), 'every process of npm run sim gone');
    await expect(fetch(`http://127.0.0.1:${port}/ari/asterisk/info`)).rejects.toThrow();
  }, 60_000);

  it('the demo records a call with a tone each way, prints the WAV path and its analysis, and leaves no process behind', async () => {
    const mark = randomUUID();
    marks.push(mark);
    const out = mkdtempSync(join(tmpdir(), 'ari-recorder-demo-test-'));
    dirs.push(out);
    const demo = run(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--out', out], mark);
    const code = await within(150_000, demo.exit, 'the demo ends');
    const output = demo.out();
    expect(code, output).toBe(0);
    // nothing it started outlives it
    expect(processesMarked(mark), output).toEqual([]);

    const path = /^WAV: (.+\.wav)$/m.exec(output)?.[1];
    expect(path, output).toBeDefined();
    expect(path!.startsWith(out)).toBe(true);
    const wav = readWavFile(path!);
    expect(wav.sampleRate).toBe(8000);
    expect(wav.channels).toBe(1);
    expect(Math.abs(wav.durationMs - 5000)).toBeLessThanOrEqual(100);
    const levels = expectTones(wav.samples, { present: [440, 1000], sameLevelDb: 3, aboveRestDb: 30 });
    // the one-line analysis says the same
    const line = new RegExp(`^${(wav.durationMs / 1000).toFixed(2)} s 8 kHz mono: 440 Hz (-?\\d+\\.\\d) dBFS, 1000 Hz (-?\\d+\\.\\d) dBFS`, 'm').exec(output);
    expect(line, output).not.toBeNull();
    expect(Math.abs(Number(line![1]) - levels[440])).toBeLessThanOrEqual(0.051);
    expect(Math.abs(Number(line![2]) - levels[1000])).toBeLessThanOrEqual(0.051);
    // its temp dir (Redis, spool, storage, logs) went with it
    const work = /^demo: working in (\S+)$/m.exec(output)?.[1];
    expect(work).toBeDefined();
    expect(() => readdirSync(work!)).toThrow();
  }, 180_000);
});
