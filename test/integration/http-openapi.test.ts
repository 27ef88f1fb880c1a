import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHarness, type HttpHarness } from '../helpers/fakes.js';

let h: HttpHarness;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

beforeAll(async () => {
  h = await createHttpHarness();
  const res = await h.app.inject({ method: 'GET', url: '/v1.0/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(async () => {
  await h?.close();
});

/** fastify `/v1.0/recordings/:id` → OpenAPI `/v1.0/recordings/{id}` */
const toOpenApi = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const toFastify = (path: string) => path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'];

describe('OpenAPI document', () => {
  it('is OpenAPI 3 with both auth schemes and the shared schemas', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'token']);
    for (const s of ['Error', 'Recording', 'RecordingOptions', 'Reference', 'RecordingPage', 'Export']) expect(doc.components.schemas).toHaveProperty(s);
  });

  it('documents every registered route with its method', () => {
    expect(h.routes.length).toBeGreaterThanOrEqual(17);
    for (const r of h.routes) {
      const path = doc.paths[toOpenApi(r.url)];
      expect(path, `${r.method} ${r.url} is not documented`).toBeDefined();
      expect(path[r.method.toLowerCase()], `${r.method} ${r.url} is not documented`).toBeDefined();
    }
  });

  it('every documented operation is a registered route', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops).filter((m) => METHODS.includes(m))) {
        expect(h.app.hasRoute({ method: method.toUpperCase() as 'GET', url: toFastify(path) }), `${method} ${path} is not a route`).toBe(true);
        expect(h.routes.some((r) => r.method === method.toUpperCase() && toOpenApi(r.url) === path)).toBe(true);
      }
    }
  });

  it('has the routes of the design, exactly', () => {
    const ops = Object.entries(doc.paths)
      .flatMap(([p, o]) => Object.keys(o).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(ops).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /v1.0/openapi.json',
        'POST /v1.0/calls/{id}/recording_start',
        'POST /v1.0/calls/{id}/recording_stop',
        'POST /v1.0/calls/{id}/recording_pause',
        'POST /v1.0/calls/{id}/recording_resume',
        'GET /v1.0/calls/{id}',
        'POST /v1.0/conferences/{id}/recording_start',
        'POST /v1.0/conferences/{id}/recording_stop',
        'POST /v1.0/conferences/{id}/recording_pause',
        'POST /v1.0/conferences/{id}/recording_resume',
        'GET /v1.0/conferences/{id}',
        'GET /v1.0/recordings',
        'GET /v1.0/recordings/usage',
        'GET /v1.0/recordings/{id}',
        'DELETE /v1.0/recordings/{id}',
        'GET /v1.0/recordings/{id}/file',
        'HEAD /v1.0/recordings/{id}/file',
        'POST /v1.0/recordings/export',
        'GET /v1.0/recordings/exports/{id}',
        'GET /v1.0/recordings/exports/{id}/file',
        'HEAD /v1.0/recordings/exports/{id}/file',
      ].sort(),
    );
  });

  it('protected operations declare security and their error responses; public ones do not', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!METHODS.includes(method)) continue;
        const isPublic = ['/healthz', '/readyz', '/v1.0/openapi.json'].includes(path);
        // public: `security: []` says "no token" (redocly's security-defined); a 4XX like any HTTP request
        if (isPublic) {
          expect(op.security, `${method} ${path}`).toEqual([]);
          expect(Object.keys(op.responses ?? {}).some((k) => k.startsWith('4')), `${method} ${path}`).toBe(true);
        }
        else {
          expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }, { token: [] }]);
          expect(Object.keys(op.responses ?? {}), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403', '500']));
        }
      }
    }
    expect(Object.keys(doc.paths['/v1.0/recordings/{id}/file'].get.responses ?? {})).toEqual(expect.arrayContaining(['200', '206', '404', '416']));
    expect(Object.keys(doc.paths['/v1.0/recordings/export'].post.responses ?? {})).toEqual(expect.arrayContaining(['202', '400']));
    // errors are JSON even on the download route
    expect(Object.keys((doc.paths['/v1.0/recordings/{id}/file'].get.responses?.['404'] as { content: object }).content)).toEqual(['application/json']);
  });

  it('every operation has a unique operationId (GET and HEAD of one route included); the document names its license and server', () => {
    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.entries(ops)
        .filter(([m]) => METHODS.includes(m))
        .map(([, op]) => (op as { operationId?: string }).operationId),
    );
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), String(ids)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect((doc.paths['/v1.0/recordings/{id}/file'].head as { operationId?: string }).operationId).toBe('headRecordingFile');
    expect((doc.paths['/v1.0/recordings/{id}/file'].get as { operationId?: string }).operationId).toBe('getRecordingFile');
    const full = doc as unknown as { info: { license: { identifier: string } }; servers: Array<{ url: string }> };
    expect(full.info.license.identifier).toBe('Apache-2.0');
    expect(full.servers.map((s) => s.url)).toEqual(['/']);
  });

  it('recording_start documents an optional body; export a required one', () => {
    const start = doc.paths['/v1.0/calls/{id}/recording_start'].post as { requestBody?: { required: boolean } };
    expect(start.requestBody?.required).toBe(false);
    expect(start).not.toHaveProperty('x-body-optional');
    const exp = doc.paths['/v1.0/recordings/export'].post as { requestBody?: { required: boolean } };
    expect(exp.requestBody?.required).toBe(true);
  });

  it('without an export store the export routes are neither registered nor documented', async () => {
    const h2 = await createHttpHarness({ exports: undefined, enqueueExport: undefined });
    try {
      const d = (await h2.app.inject({ method: 'GET', url: '/v1.0/openapi.json' })).json();
      expect(Object.keys(d.paths).filter((p) => p.includes('export'))).toEqual([]);
      expect(h2.routes.some((r) => r.url.includes('export'))).toBe(false);
    } finally {
      await h2.close();
    }
  });
});
