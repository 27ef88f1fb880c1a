import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, type ErrorCode } from '../domain/errors.js';
import { validationError } from './validation.js';

export interface HttpError {
  status: number;
  body: { code: string; message: string } & Record<string, unknown>;
}

/** Framework client errors (body too large, bad media type, …) keep their status and get a stable, registered code. */
const CLIENT_ERRORS: Record<number, { code: ErrorCode; message: string }> = {
  400: { code: 'validation_failed', message: 'bad request' },
  413: { code: 'payload_too_large', message: 'request body too large' },
  414: { code: 'uri_too_long', message: 'URL or path parameter too long' },
  415: { code: 'unsupported_media_type', message: 'send the body as application/json' },
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
    // Framework messages may echo the URL (and its query): never send them back.
    return { status: fe.statusCode, body: { ...(CLIENT_ERRORS[fe.statusCode] ?? { code: 'bad_request', message: 'bad request' }) } };
  }
  const internal = new AppError('INTERNAL', 'internal error');
  return { status: internal.status, body: internal.toJSON() };
}

/** Errors thrown by routes and hooks, and (via the `frameworkErrors` option) router errors such as 414. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toHttpError(err);
  if (status >= 500) request.log.error({ err, code: body.code }, `request failed [code:${body.code}]`);
  else request.log.debug({ code: body.code }, `request refused [code:${body.code}]`);
  if (status === 429 && typeof body.retry_after === 'number') reply.header('retry-after', String(body.retry_after));
  // Headers set for a successful reply must not leak into the error (a 416 keeps its `Content-Range: bytes */size`).
  if (status !== 416) reply.removeHeader('content-range');
  reply.removeHeader('content-disposition').removeHeader('etag').removeHeader('last-modified');
  reply.removeHeader('content-length').type('application/json; charset=utf-8');
  return reply.status(status).send(body);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    const err = new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.status(err.status).send(err.toJSON());
  });
}
