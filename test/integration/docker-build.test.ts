import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadTokensFile } from '../../src/http/auth.js';

/**
 * docker/Dockerfile, docker/compose.yaml and .dockerignore. The file checks always run (no Docker needed); the real
 * `docker build` runs where a Docker daemon answers, and hadolint where its binary or Docker is there. Where they
 * cannot run, their tests are SKIPPED — which is not passing: the reason is in the test's name and printed.
 */
const run = promisify(execFile);
const DOCKERFILE = readFileSync('docker/Dockerfile', 'utf8');
const DOCKERIGNORE = readFileSync('.dockerignore', 'utf8');

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions with continuation lines joined and comments dropped; `stage` counts FROMs from 0. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') stage++;
    out.push({ op: m[1], args: m[2].replace(/\s+/g, ' ').trim(), stage });
  }
  return out;
}

const INS = instructions(DOCKERFILE);
const lastStage = Math.max(...INS.map((i) => i.stage));
const runtime = INS.filter((i) => i.stage === lastStage);
const build = INS.filter((i) => i.stage < lastStage);

/** The runtime stage's ENV as a map (`ENV A=1 B=2`). */
function runtimeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of runtime.filter((x) => x.op === 'ENV')) for (const [, k, v] of i.args.matchAll(/([A-Z_]+)=(\S+)/g)) env[k] = v;
  return env;
}

/** .dockerignore semantics (moby/patternmatcher): the last pattern matching the path or one of its parents decides. */
function ignored(path: string): boolean {
  const rules = DOCKERIGNORE.split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = posix.normalize((negate ? l.slice(1) : l).replace(/^\//, '')).replace(/\/$/, '');
      const re = pat
        .split('/')
        .map((seg) => (seg === '**' ? '\u0000' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/')
        .replace(/\u0000\//g, '(?:.*/)?')
        .replace(/\u0000/g, '.*');
      return { negate, re: new RegExp(`^${re}$`) };
    });
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let out = false;
  for (const r of rules) if (prefixes.some((p) => r.re.test(p))) out = !r.negate;
  return out;
}

/** The HEALTHCHECK's exec-form command. */
function healthcheckCommand(): string[] {
  const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
  expect(hc, 'HEALTHCHECK in the runtime stage').toBeDefined();
  return JSON.parse(hc!.args.slice(hc!.args.indexOf('CMD ') + 4)) as string[];
}

describe('docker/Dockerfile (read, no Docker needed)', () => {
  it('builds the native receiver in the build stage and copies only the .node into the runtime image, which has no toolchain', () => {
    const buildRuns = build.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toMatch(/apt-get install -y --no-install-recommends python3 make g\+\+/);
    expect(buildRuns).toMatch(/make native/);
    // the build fails when the addon is missing instead of shipping the slower dgram path silently
    expect(buildRuns).toMatch(/test -f src\/media\/native\/build\/Release\/ari_udp\.node \|\|/);
    const runtimeRuns = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runtimeRuns).not.toMatch(/apt-get|g\+\+|node-gyp|make /);
    const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    // where src/media/native/index.ts looks first: build/Release next to the compiled index.js
    expect(copies).toContain('--from=build /app/src/media/native/build/Release/ari_udp.node ./dist/src/media/native/build/Release/ari_udp.node');
    expect(runtime.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
    expect(runtime.find((i) => i.op === 'CMD')?.args).toBe('["node", "dist/src/main.js"]');
  });

  it('creates /data for the node user, runs as node, and keeps the spool and recordings there', () => {
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/mkdir -p \/data\/spool \/data\/recordings/);
    expect(runs).toMatch(/chown -R node:node \/data/);
    const users = INS.filter((i) => i.op === 'USER');
    expect(users.at(-1)).toMatchObject({ args: 'node', stage: lastStage });
    expect(runtimeEnv()).toMatchObject({ SPOOL_DIR: '/data/spool', STORAGE_DIR: '/data/recordings' });
  });

  it('EXPOSEs the admin port and the real RTP range (config defaults)', () => {
    const defaults = loadConfig({});
    const env = runtimeEnv();
    expect(Number(env.RTP_PORT_MIN)).toBe(defaults.rtp.portMin);
    expect(Number(env.RTP_PORT_MAX)).toBe(defaults.rtp.portMax);
    const expose = runtime.find((i) => i.op === 'EXPOSE')?.args.split(' ') ?? [];
    expect(expose.sort()).toEqual([`${defaults.http.port}/tcp`, `${defaults.rtp.portMin}-${defaults.rtp.portMax}/udp`].sort());
  });

  it('its environment binds RTP on every interface, so the daemon refuses to start until RTP_ADVERTISE_HOST is set', () => {
    const env = runtimeEnv();
    expect(env.RTP_BIND_HOST).toBe('0.0.0.0');
    expect(env.RTP_ADVERTISE_HOST).toBeUndefined();
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/RTP_ADVERTISE_HOST: required with RTP_BIND_HOST=0\.0\.0\.0/);
    expect(loadConfig({ ...env, RTP_ADVERTISE_HOST: 'recorder' }).rtp).toMatchObject({ bindHost: '0.0.0.0', advertiseHost: 'recorder' });
  });

  describe('HEALTHCHECK, run as written against a local /healthz', () => {
    let server: Server;
    let status = 200;
    let port = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/healthz' ? status : 404;
        res.end('{}');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const probe = async (env: Record<string, string>) => {
      const [cmd, ...args] = healthcheckCommand();
      expect(cmd).toBe('node');
      try {
        await run(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });
        return 0;
      } catch (err) {
        return (err as { code?: number }).code ?? -1;
      }
    };

    it('exits 0 on 200, 1 on 503 or when nothing listens; HTTP_HOST 0.0.0.0 is probed on loopback', async () => {
      status = 200;
      expect(await probe({ HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })).toBe(0);
      expect(await probe({ HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) })).toBe(0);
      status = 503;
      expect(await probe({ HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })).toBe(1);
      await new Promise<void>((r) => server.close(() => r()));
      expect(await probe({ HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) })).toBe(1);
      server.listen(0, '127.0.0.1');
    });
  });
});

describe('.dockerignore', () => {
  it('keeps node_modules, dist, var, .git, tests, bench results, secrets and local builds out of the context', () => {
    for (const p of [
      'node_modules/fastify/package.json',
      'dist/src/main.js',
      'var/spool/x.wav',
      '.git/HEAD',
      'test/integration/docker-build.test.ts',
      'bench/results/run.json',
      'coverage/index.html',
      'docker/.env',
      'docker/tokens.json',
      'src/media/native/build/Release/ari_udp.node',
      'src/media/native/native-build.log',
      'npm-debug.log',
    ]) {
      expect(ignored(p), p).toBe(true);
    }
  });

  it('lets in everything the Dockerfile copies from the context', () => {
    const sources = INS.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(' ').slice(0, -1))
      .map((s) => s.replace(/^\.\//, ''));
    expect(sources.sort()).toEqual(['Makefile', 'package-lock.json', 'package.json', 'src', 'tsconfig.json'].sort());
    for (const s of sources) expect(ignored(s), s).toBe(false);
    for (const f of ['src/main.ts', 'src/media/native/udp_batch.c', 'src/media/native/binding.gyp', 'src/mixer/worker-bootstrap.mjs']) {
      expect(ignored(f), f).toBe(false);
    }
  });
});

describe('docker/compose.yaml', () => {
  const compose = parseYaml(readFileSync('docker/compose.yaml', 'utf8')) as {
    services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; command?: string[]; environment?: Record<string, string>; volumes?: Array<string | Record<string, unknown>>; network_mode?: string; healthcheck?: unknown; depends_on?: Record<string, { condition: string }> }>;
  };
  const { asterisk, redis, recorder } = compose.services;
  /** compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error} with the values a docker/.env would give */
  const interpolate = (s: string, values: Record<string, string>) =>
    s.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, kind: string | undefined, rest: string) => values[name] ?? (kind === '-' ? rest : ''));

  it('Redis listens on loopback only, with a password, and the recorder connects with it', () => {
    const cmd = (redis.command ?? []).join(' ');
    expect(cmd).toMatch(/requirepass %s/);
    expect(cmd).toMatch(/--bind 127\.0\.0\.1 -::1 /);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.environment?.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(redis.healthcheck).toBeDefined();
    expect(recorder.environment?.REDIS_URL).toBe('redis://:${REDIS_PASSWORD}@127.0.0.1:6379');
    expect(recorder.depends_on?.redis?.condition).toBe('service_healthy');
  });

  it("the recorder's environment is a valid configuration (bind and advertise agree) with a mounted tokens file", async () => {
    const env = Object.fromEntries(Object.entries(recorder.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), { REDIS_PASSWORD: 'a1b2c3' })]));
    const config = loadConfig(env);
    expect(config.redis.target).toEqual({ kind: 'url', url: 'redis://:a1b2c3@127.0.0.1:6379' });
    expect(config.rtp).toMatchObject({ bindHost: '127.0.0.1', advertiseHost: '127.0.0.1' });
    expect(config.http.host).toBe('127.0.0.1');
    const tokens = (recorder.volumes ?? []).find((v) => typeof v === 'object' && v.target === config.http.tokensFile) as { source: string; read_only: boolean; bind: { create_host_path: boolean } };
    expect(tokens).toMatchObject({ source: './tokens.json', read_only: true, bind: { create_host_path: false } });
    expect(recorder.volumes).toContain('recordings:/data');
    expect(existsSync(join('docker', recorder.build!.context, recorder.build!.dockerfile))).toBe(true);
    // the example tokens file is one the daemon loads
    const auth = await loadTokensFile('docker/tokens.example.json');
    expect(await auth.resolve('REPLACE-with-openssl-rand-hex-24')).toMatchObject({ customer_id: 'default' });
  });

  it("Asterisk's RTP ports (the rtp.conf it mounts) stay apart from the recorder's on the shared host network", () => {
    const mount = (asterisk.volumes ?? []).find((v): v is string => typeof v === 'string' && v.endsWith(':/etc/asterisk/rtp.conf:ro'));
    expect(mount).toBeDefined();
    const conf = readFileSync(join('docker', mount!.split(':')[0]), 'utf8');
    const [start, end] = ['rtpstart', 'rtpend'].map((k) => Number(new RegExp(`^${k}=(\\d+)`, 'm').exec(conf)?.[1]));
    const env = Object.fromEntries(Object.entries(recorder.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), { REDIS_PASSWORD: 'a1b2c3' })]));
    // the image's defaults (Dockerfile ENV) unless compose sets them
    const min = Number(env.RTP_PORT_MIN ?? /RTP_PORT_MIN=(\d+)/.exec(DOCKERFILE)?.[1]);
    const max = Number(env.RTP_PORT_MAX ?? /RTP_PORT_MAX=(\d+)/.exec(DOCKERFILE)?.[1]);
    expect(start).toBeLessThan(end);
    expect(min).toBeLessThan(max);
    expect(end < min || start > max, `Asterisk ${start}-${end}, recorder ${min}-${max}`).toBe(true);
  });

  it('GCS is switched on from docker/.env (STORAGE_BACKEND, GCS_BUCKET), local by default', () => {
    const envWith = (values: Record<string, string>) =>
      loadConfig(Object.fromEntries(Object.entries(recorder.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), { REDIS_PASSWORD: 'a1b2c3', ...values })])));
    expect(envWith({}).storage.backend).toBe('local');
    expect(envWith({ STORAGE_BACKEND: 'gcs', GCS_BUCKET: 'calls-eu' }).storage).toMatchObject({ backend: 'gcs', gcs: { bucket: 'calls-eu' } });
  });

  it("Asterisk (the image the container e2e test uses) mounts asterisk-config's dialplan drop-ins and ARI/HTTP settings", () => {
    expect(asterisk.image).toBe('andrius/asterisk:22');
    const mounts = (asterisk.volumes ?? []).filter((v): v is string => typeof v === 'string');
    for (const f of readdirSync('asterisk-config').filter((n) => n.endsWith('.conf'))) {
      expect(mounts, f).toContain(`../asterisk-config/${f}:/etc/asterisk/${f}:ro`);
    }
    for (const m of mounts) expect(existsSync(join('docker', m.split(':')[0])), m).toBe(true);
    expect(new Set(Object.values(compose.services).map((s) => s.network_mode))).toEqual(new Set(['host']));
  });
});

// --- the real thing, where it can run -------------------------------------------------------------------------------

function probeDocker(): { ok: boolean; reason: string } {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return { ok: false, reason: `no docker CLI (${(r.error as NodeJS.ErrnoException).code})` };
  if (r.status !== 0) return { ok: false, reason: `no Docker daemon answers \`docker info\` (${(r.stderr || r.stdout).trim().split('\n').at(-1)})` };
  return { ok: true, reason: `Docker ${r.stdout.trim()}` };
}

function probeHadolint(docker: { ok: boolean }): { how: 'binary' | 'docker' | null; reason: string } {
  const r = spawnSync('hadolint', ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (!r.error && r.status === 0) return { how: 'binary', reason: r.stdout.trim() };
  if (docker.ok) return { how: 'docker', reason: 'hadolint/hadolint image' };
  return { how: null, reason: 'no hadolint binary on PATH and no Docker daemon to run the hadolint/hadolint image' };
}

const docker = probeDocker();
const hadolint = probeHadolint(docker);
if (!docker.ok) console.warn(`docker-build.test: \`docker build\` SKIPPED (a skip, not a pass): ${docker.reason}`);
if (!hadolint.how) console.warn(`docker-build.test: hadolint SKIPPED (a skip, not a pass): ${hadolint.reason}`);

describe('with Docker / hadolint', () => {
  const tag = `ari-recorder:test-${randomUUID().slice(0, 8)}`;
  afterAll(() => {
    if (docker.ok) spawnSync('docker', ['image', 'rm', '-f', tag], { timeout: 60_000 });
  });

  it.skipIf(!docker.ok)(`docker build -f docker/Dockerfile . — then the image runs as node, owns /data, loads the native receiver and refuses bind 0.0.0.0 without RTP_ADVERTISE_HOST${docker.ok ? '' : ` [SKIPPED, not passed: ${docker.reason}]`}`, async () => {
    const b = spawnSync('docker', ['build', '-f', 'docker/Dockerfile', '-t', tag, '.'], { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    expect(b.status, `${b.stdout}\n${b.stderr}`.slice(-4000)).toBe(0);
    const inImage = (...args: string[]) => spawnSync('docker', ['run', '--rm', '--entrypoint', args[0], tag, ...args.slice(1)], { encoding: 'utf8', timeout: 120_000 });
    expect(inImage('stat', '-c', '%U', '/data', '/data/spool', '/data/recordings').stdout.trim().split('\n')).toEqual(['node', 'node', 'node']);
    expect(inImage('id', '-un').stdout.trim()).toBe('node');
    const native = inImage('node', '-e', "import('/app/dist/src/media/native/index.js').then((m) => { if (!m.loadNativeUdp()) { console.error(m.nativeUdpUnavailableReason()); process.exit(3); } })");
    expect(native.status, native.stderr).toBe(0);
    expect(inImage('sh', '-c', 'command -v g++ make python3 || true').stdout.trim()).toBe('');
    const refused = spawnSync('docker', ['run', '--rm', '-e', 'REDIS_URL=redis://127.0.0.1:1', tag], { encoding: 'utf8', timeout: 120_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/invalid configuration: RTP_ADVERTISE_HOST: required with RTP_BIND_HOST=0\.0\.0\.0/);
  }, 25 * 60_000);

  it.skipIf(!hadolint.how)(`hadolint docker/Dockerfile reports nothing${hadolint.how ? ` (${hadolint.reason})` : ` [SKIPPED, not passed: ${hadolint.reason}]`}`, () => {
    const r =
      hadolint.how === 'binary'
        ? spawnSync('hadolint', ['docker/Dockerfile'], { encoding: 'utf8', timeout: 60_000 })
        : spawnSync('docker', ['run', '--rm', '-i', 'hadolint/hadolint'], { input: DOCKERFILE, encoding: 'utf8', timeout: 300_000 });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);
});
