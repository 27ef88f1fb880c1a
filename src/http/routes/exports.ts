import type { FastifyInstance } from 'fastify';
import { AppError } from '../../domain/errors.js';
import { classifyRecording, type NotExported } from '../../export/manifest.js';
import type { BlobStorage } from '../../storage/blob-storage.js';
import type { RecordingStore } from '../../store/types.js';
import { principalOf } from '../context.js';
import { errors, exportBody, idParams, security } from '../schemas.js';
import { sendBlob } from '../send-blob.js';
import type { ExportRecord, ExportStore } from '../../store/types.js';
import type { RateLimiter } from '../rate-limit.js';
import { exportView } from '../views.js';

export function exportRoutes(deps: {
  store: RecordingStore;
  storage: BlobStorage;
  exports: ExportStore;
  enqueueExport(exportId: string): Promise<void>;
  newId(): string;
  now(): Date;
  /** Exports a customer may ask for per window (building archives is the API's most expensive request). */
  exportsPerCustomer: RateLimiter;
}) {
  const { store, storage, exports } = deps;

  async function ownedExport(id: string, customerId: string): Promise<ExportRecord> {
    const e = await exports.get(id);
    if (!e || e.customer_id !== customerId) throw new AppError('EXPORT_NOT_FOUND', `export ${id} not found`);
    if (e.status === 'deleted') {
      const details = e.tm_delete ? { tm_delete: e.tm_delete } : undefined;
      throw e.delete_reason === 'retention'
        ? new AppError('EXPORT_EXPIRED', `export ${id} expired: its archive was deleted`, details)
        : new AppError('EXPORT_DELETED', `export ${id} was deleted: a recording in it was deleted`, details);
    }
    return e;
  }

  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: { recording_ids: string[] } }>(
      '/recordings/export',
      {
        config: { permission: 'recording.export' },
        schema: {
          tags: ['exports'],
          summary: 'Export recordings into one archive (async)',
          operationId: 'createExport',
          description:
            'Each id is checked now: unknown ids and other customers\' ids are listed as not_found, deleted ones as deleted, ' +
            'unfinished ones as not_available; the rest are exported by a background job. Poll GET /v1.0/recordings/exports/{id}.',
          security,
          body: exportBody,
          response: { 202: { $ref: 'Export#' }, ...errors(400, 429, 503) },
        },
      },
      async (request, reply) => {
        const { customer_id } = principalOf(request);
        const wait = await deps.exportsPerCustomer.take(customer_id);
        if (wait > 0) throw new AppError('RATE_LIMITED', 'too many exports: try again later', { retry_after: wait });
        const ids = [...new Set(request.body.recording_ids)];
        const recs = await Promise.all(ids.map((id) => store.get(id)));
        // Same verdicts as the export job (export/manifest.ts): another customer's id is `not_found`, like an unknown one.
        const skipped = ids
          .map((id, i) => ({ id, reason: classifyRecording(recs[i], customer_id) }))
          .filter((s): s is NotExported => s.reason !== 'export');
        let rec = await exports.create({ id: deps.newId(), customer_id, recording_ids: ids, now: deps.now() });
        if (skipped.length > 0) rec = await exports.update(rec.id, { manifest: { count: 0, total_bytes: 0, skipped } });
        try {
          await deps.enqueueExport(rec.id);
        } catch (err) {
          // Never leave an export queued with no job behind it.
          await exports
            .update(rec.id, { status: 'failed', error: { code: 'enqueue_failed', message: 'the export job could not be queued' }, tm_end: deps.now().toISOString() })
            .catch(() => undefined);
          throw err;
        }
        request.log.info({ export_id: rec.id }, `export queued [export_id:${rec.id}, recordings:${ids.length - skipped.length}, skipped:${skipped.length}]`);
        return reply.status(202).send(exportView(rec));
      },
    );

    app.get<{ Params: { id: string } }>(
      '/recordings/exports/:id',
      {
        config: { permission: 'recording.export' },
        schema: {
          tags: ['exports'],
          summary: 'Export status, progress and download_url when completed',
          operationId: 'getExport',
          security,
          params: idParams,
          response: { 200: { $ref: 'Export#' }, ...errors(404, 410, 503) },
        },
      },
      async (request) => {
        const { customer_id } = principalOf(request);
        return exportView(await ownedExport(request.params.id, customer_id));
      },
    );

    app.route<{ Params: { id: string } }>({
      method: ['GET', 'HEAD'],
      url: '/recordings/exports/:id/file',
      config: { permission: 'recording.export' },
      schema: {
        tags: ['exports'],
        summary: 'Download the export archive',
        operationId: 'getExportFile',
        description: 'Streams the archive; supports Range like /recordings/{id}/file. 404 export_not_found until completed.',
        security,
        params: idParams,
        response: {
          200: { description: 'The archive', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'One byte range', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'Not modified', type: 'null' },
          ...errors(404, 410, 416, 503),
        },
      },
      handler: async (request, reply) => {
        const { customer_id } = principalOf(request);
        const e = await ownedExport(request.params.id, customer_id);
        const notReady = () => new AppError('EXPORT_NOT_FOUND', `export ${e.id} has no archive (status ${e.status})`, { status: e.status });
        if (e.status !== 'completed' || !e.storage_key) throw notReady();
        const { contentType, ext } = archiveType(e.storage_key);
        return sendBlob(request, reply, storage, e.storage_key, { contentType, filename: `export-${e.id}${ext}`, missing: notReady });
      },
    });
  };
}

/** The archive's type from its key (the export job picks the format). */
function archiveType(key: string): { contentType: string; ext: string } {
  if (key.endsWith('.tar.gz') || key.endsWith('.tgz')) return { contentType: 'application/gzip', ext: '.tar.gz' };
  if (key.endsWith('.tar')) return { contentType: 'application/x-tar', ext: '.tar' };
  return { contentType: 'application/zip', ext: '.zip' };
}
