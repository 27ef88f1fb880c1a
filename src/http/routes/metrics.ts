import type { FastifyInstance } from 'fastify';

/** GET /metrics: the Prometheus text exposition of this daemon (public, like /healthz: bind the admin port with care). */
export function metricsRoutes(metrics: { readonly contentType: string; render(): Promise<string> }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/metrics',
      {
        config: { public: true },
        schema: {
          tags: ['health'],
          summary: 'Prometheus metrics (text exposition format)',
          operationId: 'getMetrics',
          response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
    );
  };
}
