import type { FastifyInstance } from 'fastify';
import { AppError } from '../../domain/errors.js';
import type { Recording, RecordingStatus, ReferenceType } from '../../domain/recording.js';
import type { BlobStorage } from '../../storage/blob-storage.js';
import type { RecordingStore } from '../../store/types.js';
import { principalOf } from '../context.js';
import { ownedRecording } from '../recording-access.js';
import { DEFAULT_PAGE_SIZE, errors, idParams, listQuery, security } from '../schemas.js';
import { sendBlob } from '../send-blob.js';
import { recordingView } from '../../domain/recording-events.js';

interface ListQuery {
  page_size?: number;
  page_token?: string;
  reference_id?: string;
  reference_type?: ReferenceType;
  status?: RecordingStatus;
  from?: string;
  to?: string;
}

export function recordingRoutes(deps: {
  store: RecordingStore;
  storage: BlobStorage;
  deleteRecording(id: string, customerId: string): Promise<Recording>;
}) {
  const { store, storage } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: ListQuery }>(
      '/recordings',
      {
        config: { permission: 'recording.read' },
        schema: {
          tags: ['recordings'],
          summary: "List the customer's recordings, newest first",
          operationId: 'listRecordings',
          description: 'Deleted recordings are left out unless `status=deleted` is asked (until their metadata is purged).',
          security,
          querystring: listQuery,
          response: { 200: { $ref: 'RecordingPage#' }, ...errors(400, 503) },
        },
      },
      async (request) => {
        const { customer_id } = principalOf(request);
        const q = request.query;
        if (q.from && q.to && Date.parse(q.from) > Date.parse(q.to)) {
          throw new AppError('VALIDATION', 'from must not be after to', { field: 'from' });
        }
        const page = await store.list({
          customer_id,
          page_size: q.page_size ?? DEFAULT_PAGE_SIZE,
          page_token: q.page_token,
          reference_id: q.reference_id,
          reference_type: q.reference_type,
          status: q.status,
          from: q.from,
          to: q.to,
        });
        // The store is scoped by customer; filter again so a store bug can never leak another customer's row.
        const result = page.result.filter((r) => r.customer_id === customer_id).map(recordingView);
        return page.next_page_token ? { result, next_page_token: page.next_page_token } : { result };
      },
    );

    app.get<{ Querystring: { from?: string; to?: string } }>(
      '/recordings/usage',
      {
        config: { permission: 'recording.read' },
        schema: {
          tags: ['recordings'],
          summary: "The customer's storage usage: available recordings, their bytes and audio, in all and by day",
          operationId: 'getRecordingUsage',
          description:
            'Recordings created in [from, to) (ISO 8601 dates or date-times; default: the last 30 days), available ones only (deleted ' +
            'and expired ones no longer count). `days` holds the UTC days with at least one recording. At most 366 days.',
          security,
          // Unknown parameters are ignored, as on the list: `?token=` is one (the auth hook reads it).
          querystring: {
            type: 'object',
            properties: { from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 } },
          },
          response: { 200: { $ref: 'Usage#' }, ...errors(400, 503) },
        },
      },
      async (request) => {
        const { customer_id } = principalOf(request);
        const to = request.query.to !== undefined ? parseInstant(request.query.to, 'to') : Date.now();
        const from = request.query.from !== undefined ? parseInstant(request.query.from, 'from') : to - 30 * DAY_MS;
        if (from >= to) throw new AppError('VALIDATION', 'from must be before to', { field: 'from' });
        if (to - from > 366 * DAY_MS) throw new AppError('VALIDATION', 'at most 366 days at once', { field: 'from' });
        const usage = await store.usage(customer_id, from, to);
        return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...usage };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/recordings/:id',
      {
        config: { permission: 'recording.read' },
        schema: {
          tags: ['recordings'],
          summary: 'Get a recording',
          operationId: 'getRecording',
          description:
            '404 recording_not_found (unknown or not yours, or deleted more than DELETED_METADATA_DAYS ago), 410 recording_deleted / recording_expired.',
          security,
          params: idParams,
          response: { 200: { $ref: 'Recording#' }, ...errors(404, 410, 503) },
        },
      },
      async (request) => {
        const { customer_id } = principalOf(request);
        return recordingView(await ownedRecording(store, request.params.id, customer_id));
      },
    );

    app.route<{ Params: { id: string } }>({
      method: ['GET', 'HEAD'],
      url: '/recordings/:id/file',
      config: { permission: 'recording.read' },
      schema: {
        tags: ['recordings'],
        summary: 'Download the WAV file',
        operationId: 'getRecordingFile',
        description:
          'Whole file (200) or one byte range (206, `Range: bytes=a-b`, `bytes=a-`, `bytes=-n`). ' +
          'Several ranges get the whole file (200); a malformed Range is ignored (200); an unsatisfiable one gets 416 ' +
          'with `Content-Range: bytes */size`. 404 recording_not_available until the recording is available.',
        security,
        params: idParams,
        response: {
          200: { description: 'The whole file', content: { 'audio/wav': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'One byte range', content: { 'audio/wav': { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'Not modified (If-None-Match / If-Modified-Since)', type: 'null' },
          ...errors(404, 410, 416, 503),
        },
      },
      handler: async (request, reply) => {
        const { customer_id } = principalOf(request);
        const rec = await ownedRecording(store, request.params.id, customer_id);
        const notAvailable = () => new AppError('RECORDING_NOT_AVAILABLE', `recording ${rec.id} is not available (status ${rec.status})`, { status: rec.status });
        if (rec.status !== 'available' || !rec.storage_key) throw notAvailable();
        return sendBlob(request, reply, storage, rec.storage_key, {
          contentType: 'audio/wav',
          filename: `${rec.id}.wav`,
          missing: notAvailable,
        });
      },
    });

    app.delete<{ Params: { id: string } }>(
      '/recordings/:id',
      {
        config: { permission: 'recording.delete' },
        schema: {
          tags: ['recordings'],
          summary: 'Delete a recording and its file',
          operationId: 'deleteRecording',
          description: '409 recording_active while starting, recording or stopping; 410 when already deleted.',
          security,
          params: idParams,
          response: { 200: { $ref: 'Recording#' }, ...errors(404, 409, 410, 503) },
        },
      },
      async (request) => {
        const { customer_id } = principalOf(request);
        // The deletion service logs it (the same line as retention's).
        return recordingView(await deps.deleteRecording(request.params.id, customer_id));
      },
    );
  };
}

const DAY_MS = 86_400_000;

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * An ISO 8601 date (`2026-12-01`, midnight UTC) or date-time with its offset; anything else is a 400 naming the field.
 * Every part is range-checked: Date.parse would roll `2026-02-30` over to March 2 instead of refusing it.
 */
function parseInstant(v: string, field: string): number {
  const m = INSTANT.exec(v);
  const [y, mo, d, h = 0, mi = 0, s = 0, , oh = 0, om = 0] = m ? m.slice(1).map((x) => (x === undefined ? undefined : Number(x))) : [];
  const valid =
    m !== null &&
    mo! >= 1 && mo! <= 12 &&
    d! >= 1 && d! <= new Date(Date.UTC(y!, mo!, 0)).getUTCDate() &&
    h! <= 23 && mi! <= 59 && s! <= 59 && oh! <= 23 && om! <= 59;
  const ms = valid ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw new AppError('VALIDATION', `${field} must be an ISO 8601 date or date-time`, { field });
  return ms;
}

