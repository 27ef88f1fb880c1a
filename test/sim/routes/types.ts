import type { AsteriskEngine } from '../engine.js';
import type { OperationId, Params } from '../params.js';

export interface RouteContext {
  engine: AsteriskEngine;
  params: Params;
  variables: Record<string, string>;
  /** decides whether this externalMedia request loses the race (its 200 before its StasisStart) */
  externalMediaRace: () => number;
}

export interface RouteResponse {
  status: number;
  reason?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** runs right after the response has been written (events that Asterisk sends after its answer) */
  after?: () => void;
}

export type Handler = (ctx: RouteContext) => RouteResponse | Promise<RouteResponse>;
export type HandlerTable = Partial<Record<OperationId, Handler>>;

export const ok = (body: unknown, after?: () => void): RouteResponse => ({ status: 200, reason: 'OK', body, after });
export const noContent = (after?: () => void): RouteResponse => ({ status: 204, reason: 'No Content', after });
