import type { FastifyInstance } from 'fastify';
import { AppError } from '../../domain/errors.js';
import type { Recording } from '../../domain/recording.js';
import type { BlobStorage } from '../../storage/blob-storage.js';
import type { RecordingStore } from '../../store/types.js';
import { principalOf } from '../context.js';
import { errors, exportBody, idParams, security } from '../schemas.js';
import { sendBlob } from '../send-blob.js';
import type { ExportItem, ExportItemStatus, ExportRecord, ExportStoreLike } from '../types.js';
import { exportView } from '../views.js';

export function exportRoutes(deps: {
  store: RecordingStore;
  storage: BlobStorage;
  exports: ExportStoreLike;
  enqueueExport(exportId: string): Promise<void>;
  newId(): string;
  now(): Date;
}) {
  const { store, storage, exports } = deps;

  async function ownedExport(id: string, customerId: string): Promise<ExportRecord> {
    const e = await exports.get(id);
    if (!e || e.customer_id !== customerId) throw new AppError('EXPORT_NOT_FOUND', `export ${id} not found`);
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
          description:
            'Each id is checked now: unknown ids and other customers\' ids are listed as not_found, deleted ones as deleted, ' +
            'unfinished ones as not_available; the rest are exported by a background job. Poll GET /v1.0/recordings/exports/{id}.',
          security,
          body: exportBody,
          response: { 202: { $ref: 'Export#' }, ...errors(400, 503) },
        },
      },
      async (request, reply) => {
        const { customer_id } = principalOf(request);
        const ids = [...new Set(request.body.recording_ids)];
        const recs = await Promise.all(ids.map((id) => store.get(id)));
        const items: ExportItem[] = ids.map((id, i) => ({ recording_id: id, status: itemStatus(recs[i], customer_id) }));
        const ts = deps.now().toISOString();
        const rec: ExportRecord = {
          id: deps.newId(),
          customer_id,
          status: 'queued',
          items,
          progress: { done: 0, total: items.filter((i) => i.status === 'pending').length },
          tm_create: ts,
          tm_update: ts,
        };
        await exports.create(rec);
        await deps.enqueueExport(rec.id);
        request.log.info({ export_id: rec.id }, `export queued [export_id:${rec.id}, recordings:${rec.progress?.total}]`);
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
          security,
          params: idParams,
          response: { 200: { $ref: 'Export#' }, ...errors(404, 503) },
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
        description: 'Streams the archive; supports Range like /recordings/{id}/file. 404 export_not_found until completed.',
        security,
        params: idParams,
        response: {
          200: { description: 'The archive', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'One byte range', content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'Not modified', type: 'null' },
          ...errors(404, 416, 503),
        },
      },
      handler: async (request, reply) => {
        const { customer_id } = principalOf(request);
        const e = await ownedExport(request.params.id, customer_id);
        const notReady = () => new AppError('EXPORT_NOT_FOUND', `export ${e.id} has no archive (status ${e.status})`, { status: e.status });
        if (e.status !== 'completed' || !e.storage_key) throw notReady();
        const contentType = e.content_type ?? 'application/zip';
        const ext = contentType === 'application/zip' ? 'zip' : contentType.includes('tar') ? 'tar.gz' : 'bin';
        return sendBlob(request, reply, storage, e.storage_key, { contentType, filename: `export-${e.id}.${ext}`, missing: notReady });
      },
    });
  };
}

function itemStatus(rec: Recording | null, customerId: string): ExportItemStatus {
  if (!rec || rec.customer_id !== customerId) return 'not_found';
  if (rec.status === 'deleted') return 'deleted';
  if (rec.status !== 'available') return 'not_available';
  return 'pending';
}
