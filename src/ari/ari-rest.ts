import type { AriRequestMetrics } from '../metrics/ports.js';
import { isBridge, isChannel, type AriBridge, type AriChannel } from './types.js';

/** An ARI REST call that Asterisk answered with an error status (its body is `{"message": "..."}`). */
export class AriHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly ariMessage: string,
  ) {
    super(`ARI ${method} ${path} → ${status} ${ariMessage}`);
    this.name = 'AriHttpError';
  }
}

/** Asterisk could not be reached at all (connection refused, timeout). */
export class AriUnreachableError extends Error {
  constructor(readonly method: string, readonly path: string, cause: unknown) {
    super(`ARI ${method} ${path} unreachable: ${(cause as Error)?.message ?? cause}`);
    this.name = 'AriUnreachableError';
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** Answers the recorder decides on (channel state, bridge class and members) are checked, not trusted. */
function checked<T>(op: string, v: unknown, is: (x: unknown) => x is T): T {
  if (!is(v)) throw new Error(`ARI ${op}: unexpected answer shape`);
  return v;
}

function checkedList<T>(op: string, v: unknown, is: (x: unknown) => x is T): T[] {
  if (!Array.isArray(v) || !v.every(is)) throw new Error(`ARI ${op}: unexpected answer shape`);
  return v;
}

export interface AriRestOptions {
  url: string;
  username: string;
  password: string;
  timeoutMs?: number;
  /** Hears every request: its route template, latency and status. */
  metrics?: AriRequestMetrics;
}

/** Path segments that are words of ARI's API; any other segment is an id (of a channel, bridge, app…). */
const ARI_WORDS = new Set([
  'asterisk', 'info', 'ping', 'channels', 'bridges', 'applications', 'endpoints', 'playbacks', 'recordings', 'sounds',
  'events', 'deviceStates', 'mailboxes', 'externalMedia', 'create', 'snoop', 'variable', 'continue', 'play', 'record',
  'answer', 'ring', 'dtmf', 'hold', 'mute', 'moh', 'silence', 'redirect', 'move', 'dial', 'rtp_statistics',
  'addChannel', 'removeChannel', 'videoSource', 'subscription', 'live', 'stored', 'control', 'stop', 'pause', 'unmute',
]);

/** The metrics' route of an ARI request: method and path with every id replaced, e.g. `POST /channels/{id}/snoop`. */
export function ariRoute(method: string, path: string): string {
  const template = path
    .split('/')
    .map((s) => (s === '' || ARI_WORDS.has(s) ? s : '{id}'))
    .join('/');
  return `${method} ${template}`;
}

/**
 * One path segment, percent-encoded. A segment of only dots cannot be sent at all: fetch (WHATWG URL) collapses
 * `.`, `..` and their `%2E` spellings, so `/channels/..` would become `/`. No Asterisk object has such an id.
 */
function seg(id: string): string {
  if (/^\.{1,2}$/.test(id)) throw new AriHttpError('ARI', id, 404, `no ARI object can be named ${JSON.stringify(id)}`);
  return encodeURIComponent(id);
}

export type SnoopDirection = 'none' | 'in' | 'out' | 'both';

/** The ~15 ARI operations the recorder uses, over global fetch. Parameters follow Asterisk 22's swagger. */
export class AriRest {
  readonly #base: string;
  readonly #auth: string;
  readonly #timeoutMs: number;
  readonly #metrics?: AriRequestMetrics;

  constructor(opts: AriRestOptions) {
    this.#base = `${opts.url.replace(/\/+$/, '')}/ari`;
    this.#auth = 'Basic ' + Buffer.from(`${opts.username}:${opts.password}`).toString('base64');
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#metrics = opts.metrics;
  }

  async request<T>(method: string, path: string, query: Query = {}, body?: unknown): Promise<T> {
    const seen: { status?: number } = {};
    if (!this.#metrics) return this.#request<T>(method, path, query, body, seen);
    const t0 = performance.now();
    try {
      return await this.#request<T>(method, path, query, body, seen);
    } finally {
      this.#metrics.ariRequest(ariRoute(method, path), (performance.now() - t0) / 1000, seen.status);
    }
  }

  /** `seen.status`: the HTTP status Asterisk answered (unset when it could not be reached). */
  async #request<T>(method: string, path: string, query: Query, body: unknown, seen: { status?: number }): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.#base}${path}${qs.size ? `?${qs}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: this.#auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new AriUnreachableError(method, path, err);
    }
    seen.status = res.status;
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === 'string') message = parsed.message;
      } catch {
        /* Asterisk answers some errors in HTML */
      }
      throw new AriHttpError(method, path, res.status, message);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  getInfo(): Promise<{ system?: { version?: string; entity_id?: string }; config?: { name?: string } }> {
    return this.request('GET', '/asterisk/info');
  }
  async getChannel(id: string): Promise<AriChannel> {
    return checked('GET /channels/{id}', await this.request('GET', `/channels/${seg(id)}`), isChannel);
  }
  async listChannels(): Promise<AriChannel[]> {
    return checkedList('GET /channels', await this.request('GET', '/channels'), isChannel);
  }
  hangup(id: string, reason = 'normal'): Promise<void> {
    return this.request('DELETE', `/channels/${seg(id)}`, { reason });
  }
  /** A channel variable's value ("" when unset). */
  async getVariable(id: string, variable: string): Promise<string> {
    const r = await this.request<{ value?: unknown }>('GET', `/channels/${seg(id)}/variable`, { variable });
    return typeof r?.value === 'string' ? r.value : '';
  }
  /** Sets a channel variable (the channel must be in our Stasis app: 409 otherwise). */
  setVariable(id: string, variable: string, value: string): Promise<void> {
    return this.request('POST', `/channels/${seg(id)}/variable`, { variable, value });
  }
  continueInDialplan(id: string): Promise<void> {
    return this.request('POST', `/channels/${seg(id)}/continue`);
  }
  play(id: string, media: string, playbackId?: string): Promise<{ id: string }> {
    return this.request('POST', `/channels/${seg(id)}/play`, { media, playbackId });
  }
  playOnBridge(bridgeId: string, media: string): Promise<{ id: string }> {
    return this.request('POST', `/bridges/${seg(bridgeId)}/play`, { media });
  }
  snoop(channelId: string, p: { spy: SnoopDirection; whisper?: SnoopDirection; app: string; snoopId?: string; appArgs?: string }): Promise<AriChannel> {
    return this.request('POST', `/channels/${seg(channelId)}/snoop`, p);
  }
  externalMedia(p: { app: string; external_host: string; format: string; channelId?: string; variables?: Record<string, string> }): Promise<AriChannel> {
    const { variables, ...query } = p;
    return this.request('POST', '/channels/externalMedia', query, variables ? { variables } : undefined);
  }
  createBridge(p: { type: string; name?: string; bridgeId?: string }): Promise<AriBridge> {
    return this.request('POST', '/bridges', p);
  }
  async getBridge(id: string): Promise<AriBridge> {
    return checked('GET /bridges/{id}', await this.request('GET', `/bridges/${seg(id)}`), isBridge);
  }
  async listBridges(): Promise<AriBridge[]> {
    return checkedList('GET /bridges', await this.request('GET', '/bridges'), isBridge);
  }
  addChannel(bridgeId: string, channelIds: string[]): Promise<void> {
    return this.request('POST', `/bridges/${seg(bridgeId)}/addChannel`, { channel: channelIds.join(',') });
  }
  /** Events of an object outside our app (a ConfBridge bridge) reach us only after subscribing to it. */
  subscribe(app: string, eventSource: string): Promise<unknown> {
    return this.request('POST', `/applications/${seg(app)}/subscription`, { eventSource });
  }
  unsubscribe(app: string, eventSource: string): Promise<unknown> {
    return this.request('DELETE', `/applications/${seg(app)}/subscription`, { eventSource });
  }
  destroyBridge(id: string): Promise<void> {
    return this.request('DELETE', `/bridges/${seg(id)}`);
  }
}
