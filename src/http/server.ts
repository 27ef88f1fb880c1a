import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.js';
import { redactUrl } from './auth.js';
import { authHook } from './context.js';
import { handleError, installErrorHandling } from './errors.js';
import { deleteOwnedRecording } from './recording-access.js';
import { exportRoutes } from './routes/exports.js';
import { nodeRoutes } from './routes/nodes.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { recordingRoutes } from './routes/recordings.js';
import { referenceRoutes } from './routes/references.js';
import { documentRoute, finishDocument, openapiFrame } from './openapi.js';
import { sharedSchemas } from './schemas.js';
import { memoryRateLimiter, WindowLimiter } from './rate-limit.js';
import type { HttpLimits, HttpServerDeps } from './types.js';
import { createValidatorCompiler } from './validation.js';

export type { HttpServerDeps } from './types.js';

export const API_PREFIX = '/v1.0';
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
const DEFAULT_BODY_LIMIT = 256 * 1024;
const DEFAULT_LIMITS: HttpLimits = { authFailures: 20, exports: 20, windowMs: 60_000 };

/** Request fields for logs: the URL with `token=` redacted; headers (Authorization) are never logged. */
function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/**
 * The admin REST API. Routes are registered but the server does not listen: main.ts calls `listen` and `close`.
 * Export routes exist only when `exports` and `enqueueExport` are given.
 */
export function createHttpServer(deps: HttpServerDeps): FastifyInstance {
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger.child({ component: 'http' }, { serializers: { req: serializeRequest } });

  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    frameworkErrors: handleError,
    // Behind a load balancer every client would share its address, and one guesser would lock all out (auth limits).
    ...(deps.trustProxy?.length ? { trustProxy: deps.trustProxy } : {}),
  }) as unknown as FastifyInstance;

  app.decorateRequest('principal', null);
  for (const s of sharedSchemas) app.addSchema(s);
  app.setValidatorCompiler(createValidatorCompiler(sharedSchemas as unknown as Record<string, unknown>[]));
  installErrorHandling(app);

  // JSON bodies: an empty body is "no options"; a malformed one is 400 malformed_json (prototype poisoning refused).
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']); // anything but JSON → 415
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    defaultJson(request, text, (err, value) => {
      if (err) return done(new AppError('MALFORMED_JSON', 'request body is not valid JSON'), undefined);
      done(null, value);
    });
  });

  app.register(swagger, {
    openapi: openapiFrame(),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String((json as { $id?: string }).$id ?? `def-${i}`),
    },
    transform: documentRoute as never,
    transformObject: (doc) => finishDocument((doc as { openapiObject: Parameters<typeof finishDocument>[0] }).openapiObject),
  });

  app.register(healthRoutes(deps.readiness));
  const metrics = deps.metrics;
  if (metrics) {
    // Every request by route template (never the raw URL: ids stay out of the labels); no route: `unmatched`.
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
    app.register(metricsRoutes(metrics));
  }
  app.register(
    async (api) => {
      const limits = deps.limits ?? DEFAULT_LIMITS;
      api.addHook('onRequest', authHook(deps.auth, new WindowLimiter(limits.authFailures, limits.windowMs)));
      api.get(
        '/openapi.json',
        { config: { public: true }, schema: { tags: ['meta'], summary: 'This OpenAPI document', operationId: 'getOpenApiDocument', response: { 200: { type: 'object', additionalProperties: true } } } },
        async () => app.swagger(),
      );
      await api.register(referenceRoutes(deps.recorder));
      if (deps.listNodes) await api.register(nodeRoutes(deps.listNodes));
      await api.register(
        recordingRoutes({
          store: deps.store,
          storage: deps.storage,
          deleteRecording: deps.deleteRecording ?? ((id, customerId) => deleteOwnedRecording({ store: deps.store, storage: deps.storage, exports: deps.exports, logger: deps.logger, now }, id, customerId)),
        }),
      );
      if (deps.exports && deps.enqueueExport) {
        await api.register(
          exportRoutes({
            store: deps.store,
            storage: deps.storage,
            exports: deps.exports,
            enqueueExport: deps.enqueueExport,
            newId: deps.newId ?? randomUUID,
            now,
            exportsPerCustomer: deps.exportLimiter ?? memoryRateLimiter(limits.exports, limits.windowMs),
          }),
        );
      }
    },
    { prefix: API_PREFIX },
  );

  return app;
}
