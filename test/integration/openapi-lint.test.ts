import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHarness, type HttpHarness } from '../helpers/fakes.js';

const run = promisify(execFile);
const REDOCLY = resolve('node_modules/@redocly/cli/bin/cli.js');

let h: HttpHarness;
let dir: string;
let doc: Record<string, unknown>;

/**
 * Every optional route too: /metrics and /v1.0/nodes exist only when their dependency is given (passed untyped, so
 * this test does not depend on those modules; a route that does not exist yet is simply not in the document).
 */
const optionalRoutes = {
  metrics: { contentType: 'text/plain; version=0.0.4', render: async () => '', httpRequest: () => undefined },
  listNodes: async () => [],
};

beforeAll(async () => {
  h = await createHttpHarness(optionalRoutes as never);
  const res = await h.app.inject({ method: 'GET', url: '/v1.0/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
  dir = await mkdtemp(join(tmpdir(), 'openapi-lint-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * One known, accepted problem: `/v1.0/recordings/{id}/file` and `/v1.0/recordings/exports/{id}` have the same shape
 * (the design card fixes both paths), so `no-ambiguous-paths` warns. The router is not ambiguous — a static segment
 * wins, and no recording id is `exports` (ids are UUIDs) — so this one path, for this one rule, is in the ignore
 * file; anything else, including a second ambiguity, still counts.
 */
const IGNORE = `openapi.json:
  no-ambiguous-paths:
    - '#/paths/~1v1.0~1recordings~1exports~1{id}'
`;

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location?: Array<{ pointer?: string }> }>;
}

/**
 * `redocly lint` with its recommended rules, offline: a local document without external $ref, a local config that
 * only says `extends: [recommended]`, telemetry and the update notice off. Redocly exits 0 on warnings, so the
 * JSON report's totals are what the test reads.
 */
async function lint(doc: unknown): Promise<LintReport> {
  await writeFile(join(dir, 'openapi.json'), JSON.stringify(doc, null, 2));
  await writeFile(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\n');
  await writeFile(join(dir, '.redocly.lint-ignore.yaml'), IGNORE);
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [REDOCLY, 'lint', 'openapi.json', '--format=json', '--config', 'redocly.yaml'], {
      cwd: dir,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    }));
  } catch (err) {
    // exit 1 on errors: the report is on stdout all the same
    stdout = (err as { stdout?: string }).stdout ?? '';
    if (!stdout.includes('"totals"')) throw err;
  }
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as LintReport;
}

const summary = (r: LintReport) => r.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} ${p.location?.[0]?.pointer ?? ''}`).join('\n');

describe('OpenAPI document under redocly lint (recommended rules)', () => {
  it('has 0 errors and 0 warnings (one documented ambiguity ignored)', async () => {
    const report = await lint(doc);
    expect(report.problems, summary(report)).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 1 });
  });

  it('public routes, the optional ones included, say `security: []`', () => {
    const paths = doc.paths as Record<string, Record<string, { security?: unknown[] }>>;
    for (const p of ['/healthz', '/readyz', '/v1.0/openapi.json', '/metrics'].filter((x) => paths[x])) expect(paths[p].get.security, p).toEqual([]);
  });

  it('the linter really reports problems: a copy without license, operationId and servers is flagged', async () => {
    const broken = structuredClone(doc) as { info: Record<string, unknown>; servers?: unknown; paths: Record<string, Record<string, Record<string, unknown>>> };
    delete broken.info.license;
    delete broken.servers;
    delete broken.paths['/healthz'].get.operationId;
    delete broken.paths['/healthz'].get.security;
    const report = await lint(broken);
    const rules = report.problems.map((p) => p.ruleId).sort();
    expect(rules, summary(report)).toEqual(['info-license', 'no-empty-servers', 'operation-operationId', 'security-defined']);
    expect(report.totals.errors).toBeGreaterThan(0);
  });

  it('documents the webhooks: every recording and export event, signed, with the public recording view', () => {
    const hooks = doc.webhooks as Record<string, { post: { operationId: string; parameters: Array<{ name: string }>; requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } } }>;
    expect(Object.keys(hooks).sort()).toEqual(
      ['recording_started', 'recording_paused', 'recording_resumed', 'recording_finished', 'recording_available', 'recording_failed', 'recording_deleted', 'recording_export_completed', 'recording_export_failed'].sort(),
    );
    for (const [type, { post }] of Object.entries(hooks)) {
      expect(post.parameters.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      const body = post.requestBody.content['application/json'].schema;
      expect(body.properties.type).toEqual({ type: 'string', const: type });
      expect(body.properties.data).toMatchObject({ $ref: type.includes('export') ? '#/components/schemas/ExportEvent' : '#/components/schemas/Recording' });
      expect('seq' in body.properties).toBe(!type.includes('export'));
    }
  });
});
