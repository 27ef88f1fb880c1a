import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.js';
import type { BlobStorage } from '../storage/blob-storage.js';
import { contentRange, parseRange, type RangeResult } from './range.js';

export interface BlobResponseOptions {
  contentType: string;
  filename: string;
  /** Thrown when the object is missing from storage. */
  missing: () => AppError;
}

/**
 * Sends a stored object: 200, 206 for one satisfiable Range, 416 otherwise (see range.ts), 304 for a matching
 * If-None-Match / If-Modified-Since. The content is streamed from storage, never buffered. HEAD gets the headers only.
 */
export async function sendBlob(request: FastifyRequest, reply: FastifyReply, storage: BlobStorage, key: string, opts: BlobResponseOptions): Promise<FastifyReply> {
  const info = await storage.stat(key);
  if (!info) {
    request.log.error({ storage_key: key }, 'stored object missing');
    throw opts.missing();
  }
  const size = info.size;
  const etag = strongEtag(info.etag);
  const lastModified = info.updated.toUTCString();

  reply
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('last-modified', lastModified)
    .header('cache-control', 'private, no-cache');

  if (notModified(request, etag, info.updated)) return reply.status(304).send();

  reply.header('content-type', opts.contentType).header('content-disposition', `attachment; filename="${safeFilename(opts.filename)}"`);

  // Range only applies to GET (RFC 9110 §14.2); If-Range that does not match means "send it all".
  const range: RangeResult =
    request.method === 'GET' && ifRangeMatches(header(request, 'if-range'), etag, lastModified)
      ? parseRange(header(request, 'range'), size)
      : { kind: 'full' };

  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', contentRange(range, size));
    throw new AppError('RANGE_NOT_SATISFIABLE', `range not satisfiable for ${size} bytes`, { size });
  }
  if (range.kind === 'partial') {
    reply.status(206).header('content-range', contentRange(range, size)).header('content-length', String(range.end - range.start + 1));
  } else {
    reply.status(200).header('content-length', String(size));
  }
  if (request.method === 'HEAD') return reply.send();
  const stream = range.kind === 'partial' ? storage.createReadStream(key, { start: range.start, end: range.end }) : storage.createReadStream(key);
  return reply.send(stream);
}

/** A repeated header is not a valid single value: treat it as absent (Range is then ignored). */
function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function strongEtag(etag: string): string {
  if (/^(W\/)?".*"$/.test(etag)) return etag;
  return `"${etag.replace(/"/g, '')}"`;
}

function opaque(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}

function notModified(request: FastifyRequest, etag: string, updated: Date): boolean {
  const inm = request.headers['if-none-match'];
  if (typeof inm === 'string') {
    // weak comparison (RFC 9110 §13.1.2)
    return inm.trim() === '*' || inm.split(',').some((t) => opaque(t) === opaque(etag));
  }
  const ims = request.headers['if-modified-since'];
  if (typeof ims === 'string') {
    const since = Date.parse(ims);
    if (!Number.isNaN(since)) return Math.floor(updated.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

function ifRangeMatches(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !v.startsWith('W/') && v === etag; // strong comparison
  return v === lastModified;
}

function safeFilename(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}
