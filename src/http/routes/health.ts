import type { FastifyInstance } from 'fastify';
import type { ReadinessReport } from '../types.js';

const checkValue = { anyOf: [{ type: 'boolean' }, { type: 'object', properties: { ok: { type: 'boolean' }, message: { type: 'string' } } }] };
const readySchema = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    checks: { type: 'object', additionalProperties: checkValue },
  },
} as const;

/** GET /healthz: the process answers. GET /readyz: Redis and ARI are connected and we are not draining. */
export function healthRoutes(readiness?: () => Promise<ReadinessReport>) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/healthz',
      {
        config: { public: true },
        schema: {
          tags: ['health'],
          summary: 'Liveness',
          operationId: 'checkLiveness',
          response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } },
        },
      },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/readyz',
      {
        config: { public: true },
        schema: { tags: ['health'], summary: 'Readiness (Redis, ARI)', operationId: 'checkReadiness', response: { 200: readySchema, 503: readySchema } },
      },
      async (request, reply) => {
        let report: ReadinessReport;
        try {
          report = readiness ? await readiness() : { ok: true, checks: {} };
        } catch (err) {
          request.log.warn({ err }, 'readiness check failed');
          report = { ok: false, checks: { readiness: { ok: false, message: 'check failed' } } };
        }
        return reply.status(report.ok ? 200 : 503).send({ status: report.ok ? 'ready' : 'not_ready', checks: report.checks });
      },
    );
  };
}
