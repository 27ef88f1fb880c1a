/**
 * The OpenAPI document's frame: what @fastify/swagger cannot derive from the route schemas. The document is OpenAPI
 * 3.1 so that the webhooks we POST are described in it (`webhooks`) beside the API; it passes `redocly lint` with the
 * recommended rules (test/integration/openapi-lint.test.ts).
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { RecordingEventTypes, type RecordingEventType } from '../domain/recording-events.js';
import { NotExportedReasons } from '../export/manifest.js';
import { ExportWebhookTypes } from '../jobs/export.js';
import { OPTIONAL_BODY } from './schemas.js';

const isoTime = { type: 'string', format: 'date-time' } as const;
const codeMessage = { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;

/** `data` of the export events (jobs/export.ts exportEvent): the export without storage internals. */
const exportEventData = {
  type: 'object',
  required: ['id', 'customer_id', 'status', 'recording_ids', 'not_exported'],
  properties: {
    id: { type: 'string' },
    customer_id: { type: 'string' },
    status: { type: 'string', enum: ['completed', 'failed'] },
    progress: { type: 'object', properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
    recording_ids: { type: 'array', items: { type: 'string' } },
    count: { type: 'integer', description: 'recordings in the archive' },
    size_bytes: { type: 'integer', description: 'size of the archive (completed only)' },
    not_exported: {
      type: 'array',
      items: { type: 'object', required: ['id', 'reason'], properties: { id: { type: 'string' }, reason: { type: 'string', enum: [...NotExportedReasons] } } },
    },
    error: codeMessage,
    tm_create: isoTime,
    tm_start: isoTime,
    tm_end: isoTime,
  },
} as const;

const RECORDING_EVENTS: Record<RecordingEventType, [summary: string, description: string]> = {
  recording_started: ['A recording is recording', 'Sent when the recording reaches `recording` (a recording that fails while starting sends `recording_failed` only).'],
  recording_paused: ['A recording was paused', 'Sent when the recording reaches `paused` (recording_pause); `data.pauses` lists its pauses. Event id `<recording id>-paused-<seq>`.'],
  recording_resumed: ['A paused recording records again', 'Sent when a paused recording goes back to `recording` (recording_resume). Event id `<recording id>-recording-<seq>`.'],
  recording_finished: ['A recording stopped', 'Sent when the recording reaches `stopping`; `data.stop_reason` says why. The file is being uploaded.'],
  recording_available: ['A recording is in storage', 'Sent when the file is in storage and verified (size and checksum): `data.status` is `available`.'],
  recording_failed: ['A recording failed', 'Sent on every path to `failed`, with `data.error.code`.'],
  recording_deleted: ['A recording was deleted', 'Sent when the recording is deleted; `data.delete_reason` is `api` or `retention`.'],
};

const EXPORT_EVENTS: Record<(typeof ExportWebhookTypes)[keyof typeof ExportWebhookTypes], [string, string]> = {
  [ExportWebhookTypes.completed]: ['An export archive is ready', 'Sent when an export completes: `GET /v1.0/recordings/exports/{id}` then gives its `download_url`.'],
  [ExportWebhookTypes.failed]: ['An export failed', 'Sent when an export fails, with `data.error.code`.'],
};

/** Standard Webhooks signature headers (jobs/webhook-signature.ts), sent with every delivery. */
const signatureHeaders = [
  { name: 'webhook-id', in: 'header', required: true, description: 'The event id (same as the body\'s `id`): de-duplicate on it.', schema: { type: 'string' } },
  { name: 'webhook-timestamp', in: 'header', required: true, description: 'Unix seconds of this delivery attempt; refuse stale ones.', schema: { type: 'string' } },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description: '`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with WEBHOOK_SECRET (Standard Webhooks).',
    schema: { type: 'string' },
  },
];

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function webhook(type: string, summary: string, description: string, envelope: Record<string, unknown>, data: Record<string, unknown>) {
  return {
    post: {
      operationId: `${camel(type)}Webhook`,
      tags: ['webhooks'],
      summary,
      description: `${description} POSTed to every WEBHOOK_URLS endpoint, signed (Standard Webhooks headers).`,
      security: [],
      parameters: signatureHeaders,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'object', required: Object.keys(envelope), properties: { ...envelope, type: { type: 'string', const: type }, data } },
          },
        },
      },
      responses: {
        '2XX': { description: 'Received: the delivery is done.' },
        '4XX': { description: 'Refused: not retried (except 408 and 429, retried like 5XX).' },
        '5XX': { description: 'Retried with capped exponential backoff (WEBHOOK_ATTEMPTS); events of one recording stay in order.' },
      },
    },
  };
}

function webhooks(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of RecordingEventTypes) {
    const envelope = {
      id: { type: 'string', description: '`<recording id>-<status>` (`<recording id>-<status>-<seq>` for the pause loop, which can repeat): the same on every retry' },
      type: {},
      seq: { type: 'integer', minimum: 1, description: "the event's place in its recording's own events (1, 2, …)" },
      data: {},
    };
    out[type] = webhook(type, ...RECORDING_EVENTS[type], envelope, { $ref: '#/components/schemas/Recording', description: 'the public view of the recording, as the API answers it' });
  }
  for (const [type, [summary, description]] of Object.entries(EXPORT_EVENTS)) {
    const envelope = { id: { type: 'string', description: '`export-<export id>-<status>`: the same on every retry' }, type: {}, data: {} };
    out[type] = webhook(type, summary, description, envelope, { $ref: '#/components/schemas/ExportEvent' });
  }
  return out;
}

/** The `openapi` option of @fastify/swagger: info, servers, security schemes, webhooks. */
export function openapiFrame(): FastifyDynamicSwaggerOptions['openapi'] {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ari-recorder admin API',
      version: '1.0',
      description:
        'Call and conference recording for Asterisk. Errors are `{"code","message"}` with the HTTP status. ' +
        'The webhooks the daemon POSTs (WEBHOOK_URLS) are under `webhooks`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'the daemon that serves this document (HTTP_HOST:HTTP_PORT, by default http://127.0.0.1:8080)' }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        token: { type: 'apiKey', in: 'query', name: 'token' },
      },
      schemas: { ExportEvent: exportEventData },
    },
    webhooks: webhooks(),
  } as never;
}

/** What a public route (no token) can answer besides its own responses: Node's HTTP parser refuses a malformed request. */
const MALFORMED_REQUEST = { description: 'Malformed HTTP request, refused before routing (400; 431 for oversized headers).', type: 'null' } as const;

interface RouteDoc {
  schema?: Record<string, unknown>;
  url: string;
  route: { config?: { public?: boolean } };
}

/**
 * Per route: a public route (config.public, no token) says so with `security: []`, and documents the 4XX every
 * route can get from the HTTP parser.
 */
export function documentRoute({ schema, url, route }: RouteDoc): { schema: Record<string, unknown>; url: string } {
  const s = schema ?? {};
  if (route.config?.public !== true) return { schema: s, url };
  const response = (s.response ?? {}) as Record<string, unknown>;
  const has4xx = Object.keys(response).some((k) => /^4/.test(k));
  return { schema: { ...s, security: [], response: has4xx ? response : { ...response, '4XX': MALFORMED_REQUEST } }, url };
}

type Operation = { operationId?: string; requestBody?: { required?: boolean }; [OPTIONAL_BODY]?: boolean };
interface OpenApiDoc {
  paths?: Record<string, Record<string, Operation>>;
}

/**
 * The whole document, last: @fastify/swagger always marks a body required, so routes whose body may be absent say
 * so with `x-body-optional`; a GET+HEAD route shares one operation object, so HEAD gets its own copy and operationId.
 */
export function finishDocument(doc: OpenApiDoc): OpenApiDoc {
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      if (op[OPTIONAL_BODY]) {
        if (op.requestBody) op.requestBody.required = false;
        delete op[OPTIONAL_BODY];
      }
    }
    if (ops.head && ops.get && ops.head === ops.get) {
      const head = structuredClone(ops.head);
      if (head.operationId) head.operationId = head.operationId.replace(/^get/, 'head');
      ops.head = head;
    }
  }
  return doc;
}
