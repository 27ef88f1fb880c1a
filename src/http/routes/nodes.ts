import type { FastifyInstance } from 'fastify';
import type { NodeInfo } from '../../fleet/node-registry.js';
import { errors, security } from '../schemas.js';

const nodeSchema = {
  type: 'object',
  required: ['id', 'asterisk', 'tm_start', 'tm_heartbeat', 'lease_age_ms', 'active_recordings'],
  properties: {
    id: { type: 'string' },
    asterisk: {
      type: 'object',
      properties: { system_name: { type: 'string' }, entity_id: { type: 'string' }, version: { type: 'string' } },
    },
    tm_start: { type: 'string', format: 'date-time' },
    tm_heartbeat: { type: 'string', format: 'date-time' },
    lease_age_ms: { type: 'integer', minimum: 0 },
    active_recordings: { type: 'integer', minimum: 0 },
  },
} as const;

/** GET /v1.0/nodes (permission recording.admin): the fleet's daemons, their Asterisk, lease age and live recordings. */
export function nodeRoutes(listNodes: () => Promise<(NodeInfo & { lease_age_ms: number })[]>) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/nodes',
      {
        config: { permission: 'recording.admin' },
        schema: {
          tags: ['fleet'],
          summary: 'The nodes of the fleet (one daemon beside each Asterisk)',
          operationId: 'listNodes',
          security,
          response: { 200: { type: 'object', required: ['result'], properties: { result: { type: 'array', items: nodeSchema } } }, ...errors(503) },
        },
      },
      async () => ({ result: await listNodes() }),
    );
  };
}
