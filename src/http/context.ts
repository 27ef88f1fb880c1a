import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { WindowLimiter } from './rate-limit.js';
import { AppError } from '../domain/errors.js';
import type { Authenticator, Permission, Principal } from './auth.js';
import { extractToken } from './auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Permission the route needs. A route without one must say `public: true`. */
    permission?: Permission;
    public?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifySchema {
    /** The body may be absent: the OpenAPI document says requestBody.required false (see server.ts). */
    'x-body-optional'?: boolean;
  }
}

/** The authenticated customer of a protected route (set by the auth hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED', 'authentication required');
  return request.principal;
}

/**
 * onRequest hook: runs before the body is read, so an anonymous client cannot make us parse anything.
 * 401 unauthorized when the token is missing or unknown; 403 forbidden when it lacks the route's permission.
 */
export function authHook(auth: Authenticator, failures?: WindowLimiter) {
  return async (request: FastifyRequest): Promise<void> => {
    if (request.is404) return;
    const config = request.routeOptions.config;
    if (config.public === true) return;
    const token = extractToken(request.headers, request.query);
    // Failed authentications are limited per client address and per token (guessing, a leaked token's abuse).
    const keys = [`ip:${request.ip}`, ...(token ? [`token:${createHash('sha256').update(token).digest('hex')}`] : [])];
    const wait = failures ? Math.max(...keys.map((k) => failures.retryAfterSec(k))) : 0;
    if (wait > 0) throw new AppError('RATE_LIMITED', 'too many failed authentications: try again later', { retry_after: wait });
    const fail = (message: string): never => {
      for (const k of keys) failures?.hit(k);
      throw new AppError('UNAUTHORIZED', message);
    };
    if (token === undefined) return fail('missing token (Authorization: Bearer or ?token=)');
    const principal = await auth.resolve(token);
    if (!principal) return fail('unknown token');
    const needed = config.permission;
    // default deny: a protected route that forgot to name its permission is reachable by no one
    if (needed === undefined || !principal.permissions.includes(needed)) {
      throw new AppError('FORBIDDEN', `token lacks permission ${needed ?? '(none declared)'}`, needed ? { permission: needed } : undefined);
    }
    request.principal = principal;
    request.log = request.log.child({ customer_id: principal.customer_id });
  };
}
