import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, isAppError } from '../domain/errors.js';
import { validationError } from './validation.js';

export interface HttpError {
  status: number;
  body: { code: string; message: string } & Record<string, unknown>;
}

/** Framework client errors (body too large, bad media type, …) keep their status and get a stable code. */
const CLIENT_ERROR_CODES: Record<number, string> = {
  400: 'validation_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

const SERVER_MESSAGES: Record<number, string> = {
  500: 'internal error',
  502: 'a dependency refused the request',
  503: 'service temporarily unavailable, retry later',
};

/** The one place where anything thrown by a route becomes an HTTP status and a JSON body. */
export function toHttpError(err: unknown): HttpError {
  if (isAppError(err)) {
    // 5xx messages and details may carry internals (paths, hosts): the client gets the code and a generic message.
    if (err.status >= 500) return { status: err.status, body: { code: err.code, message: SERVER_MESSAGES[err.status] ?? 'internal error' } };
    return { status: err.status, body: err.toJSON() };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (fe && Array.isArray(fe.validation)) {
    const app = validationError(fe.validation as never, fe.validationContext ?? 'request');
    return { status: app.status, body: app.toJSON() };
  }
  if (fe && typeof fe.code === 'string' && fe.code.startsWith('FST_') && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: { code: CLIENT_ERROR_CODES[fe.statusCode] ?? 'bad_request', message: fe.message ?? 'bad request' },
    };
  }
  const internal = new AppError('INTERNAL', 'internal error');
  return { status: internal.status, body: internal.toJSON() };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) request.log.error({ err, code: body.code }, `request failed [code:${body.code}]`);
    else request.log.debug({ code: body.code }, `request refused [code:${body.code}]`);
    // Headers set for a successful reply must not leak into the error (a 416 keeps its `Content-Range: bytes */size`).
    if (status !== 416) reply.removeHeader('content-range');
    reply.removeHeader('content-disposition').removeHeader('etag').removeHeader('last-modified');
    reply.removeHeader('content-length').type('application/json; charset=utf-8');
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.status(err.status).send(err.toJSON());
  });
}
