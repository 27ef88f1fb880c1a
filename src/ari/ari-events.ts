import WebSocket from 'ws';
import type { Logger } from '../logger.js';
import { GuardedEmitter } from '../util/guarded-emitter.js';
import { parseAriEvent, type AriEvent } from './types.js';

export interface AriEventsOptions {
  url: string;
  username: string;
  password: string;
  app: string;
  logger: Logger;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  heartbeatMs?: number;
  /** The WebSocket handshake fails (timeout) when Asterisk has not answered it by then. */
  handshakeTimeoutMs?: number;
}

/** Why a connection attempt failed or a connection ended, in words an operator can act on. */
export interface AriFailure {
  cause: 'connection_refused' | 'host_not_found' | 'unreachable' | 'timeout' | 'connection_reset' | 'tls' | 'unauthorized' | 'forbidden' | 'not_found' | 'http_error' | 'heartbeat_timeout' | 'connection_lost' | 'error';
  message: string;
  hint?: string;
  /** a configuration problem (credentials, URL): logged as an error */
  config?: boolean;
}

const URL_HINT = 'check ARI_URL (scheme, host and port of Asterisk\'s HTTP server) and that Asterisk runs with ARI enabled (http.conf, ari.conf)';

/** A network error of the WebSocket (before or after the handshake). */
export function describeAriError(err: Error & { code?: string }, host: string, handshakeMs: number): AriFailure {
  switch (err.code) {
    case 'ECONNREFUSED':
      return { cause: 'connection_refused', message: `connection refused by ${host}`, hint: URL_HINT };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { cause: 'host_not_found', message: `host of ${host} not found (DNS)`, hint: 'check ARI_URL' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { cause: 'unreachable', message: `${host} unreachable (${err.code})`, hint: URL_HINT };
    case 'ETIMEDOUT':
      return { cause: 'timeout', message: `connecting to ${host} timed out`, hint: URL_HINT };
    case 'ECONNRESET':
    case 'EPIPE':
      return { cause: 'connection_reset', message: `connection reset by ${host}`, hint: 'an http:// ARI_URL on a TLS port (or the reverse) does this too' };
  }
  if (/handshake has timed out/i.test(err.message)) {
    return { cause: 'timeout', message: `${host} did not answer the WebSocket handshake within ${handshakeMs / 1000} s`, hint: URL_HINT };
  }
  if (/certificate|ssl|tls|self.signed|wrong version number/i.test(`${err.code ?? ''} ${err.message}`)) {
    return { cause: 'tls', message: `TLS with ${host} failed: ${err.message}`, hint: 'check the ARI_URL scheme (https:// only if Asterisk serves TLS) and its certificate' };
  }
  return { cause: 'error', message: err.code ? `${err.code}: ${err.message}` : err.message };
}

/** Asterisk (or whatever listens there) refused the WebSocket upgrade with an HTTP status. */
export function describeAriStatus(status: number, host: string): AriFailure {
  if (status === 401) {
    return { cause: 'unauthorized', message: `${host} refused the ARI credentials (401)`, hint: 'check ARI_USER/ARI_PASSWORD against ari.conf', config: true };
  }
  if (status === 403) return { cause: 'forbidden', message: `${host} forbids this ARI user (403)`, hint: 'check ARI_USER/ARI_PASSWORD and the user in ari.conf', config: true };
  if (status === 404) return { cause: 'not_found', message: `no ARI at ${host} (404)`, hint: URL_HINT, config: true };
  return { cause: 'http_error', message: `${host} answered the WebSocket upgrade with HTTP ${status}`, hint: status >= 500 ? undefined : URL_HINT };
}

export interface AriEventsEvents {
  event: (ev: AriEvent) => void;
  connected: () => void;
  disconnected: (err: Error | undefined) => void;
}

/**
 * The Stasis app's WebSocket: connects, validates events, and reconnects for ever with jittered exponential
 * backoff when Asterisk goes away. A ping without pong within `heartbeatMs` counts as a dead connection.
 * Listeners are guarded (util/guarded-emitter.ts): one that throws is logged and the next events still arrive.
 */
export class AriEvents extends GuardedEmitter<AriEventsEvents> {
  readonly #opts: Required<Omit<AriEventsOptions, 'logger'>> & { logger: Logger };
  #ws?: WebSocket;
  #closed = false;
  #attempt = 0;
  #timer?: NodeJS.Timeout;
  #heartbeat?: NodeJS.Timeout;
  #connected = false;
  /** Why the current attempt or connection failed (the first cause seen wins). */
  #failure?: AriFailure;
  /** The last cause logged at warn/error and when: a repeat is logged again once a minute, not at every attempt. */
  #reported = { cause: '', at: 0 };

  constructor(opts: AriEventsOptions) {
    super(opts.logger);
    this.#opts = { reconnectMinMs: 200, reconnectMaxMs: 10_000, heartbeatMs: 10_000, handshakeTimeoutMs: 5_000, ...opts };
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Starts connecting; resolves at the first successful connection (reconnects go on in the background). */
  start(): Promise<void> {
    return new Promise((resolve) => {
      this.once('connected', () => resolve());
      this.#connect();
    });
  }

  #connect(): void {
    if (this.#closed) return;
    const { url, username, password, app } = this.#opts;
    const wsUrl = `${url.replace(/^http/, 'ws').replace(/\/+$/, '')}/ari/events?app=${encodeURIComponent(app)}`;
    const host = hostOf(url);
    const ws = new WebSocket(wsUrl, {
      headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') },
      handshakeTimeout: this.#opts.handshakeTimeoutMs,
    });
    this.#ws = ws;
    this.#failure = undefined;
    let alive = true;
    ws.on('open', () => {
      if (this.#attempt > 0 || this.#reported.cause) this.#opts.logger.info({ app, after_attempts: this.#attempt }, 'ARI connected again');
      else this.#opts.logger.info({ app }, 'ARI connected');
      this.#attempt = 0;
      this.#reported = { cause: '', at: 0 };
      this.#connected = true;
      this.#heartbeat = setInterval(() => {
        if (!alive) {
          this.#failure ??= { cause: 'heartbeat_timeout', message: `${host} did not answer a ping within ${this.#opts.heartbeatMs / 1000} s` };
          return ws.terminate();
        }
        alive = false;
        ws.ping();
      }, this.#opts.heartbeatMs);
      this.emit('connected');
    });
    ws.on('pong', () => (alive = true));
    ws.on('message', (data) => {
      alive = true;
      let ev: AriEvent | null;
      try {
        ev = parseAriEvent(JSON.parse(data.toString()));
      } catch (err) {
        this.#opts.logger.warn({ err: (err as Error).message }, 'ARI event dropped');
        return;
      }
      if (ev) this.emit('event', ev);
    });
    ws.on('unexpected-response', (_req, res) => {
      this.#failure ??= describeAriStatus(res.statusCode ?? 0, host);
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      this.#failure ??= describeAriError(err, host, this.#opts.handshakeTimeoutMs);
      this.#opts.logger.debug({ err: err.message }, 'ARI WebSocket error');
    });
    ws.on('close', (code, reason) => {
      clearInterval(this.#heartbeat);
      const was = this.#connected;
      this.#connected = false;
      if (this.#closed) {
        if (was) this.emit('disconnected', undefined);
        return;
      }
      if (was) {
        this.#failure ??= { cause: 'connection_lost', message: `${host} closed the connection (${code}${reason.length ? `: ${reason.toString()}` : ''})` };
        this.#opts.logger.warn({ cause: this.#failure.cause, err: this.#failure.message }, 'ARI disconnected');
        this.#reported = { cause: this.#failure.cause, at: Date.now() };
        this.emit('disconnected', new Error(this.#failure.message));
      }
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const { reconnectMinMs, reconnectMaxMs } = this.#opts;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** this.#attempt++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    const f = this.#failure ?? { cause: 'error', message: 'connection closed' };
    const fields = { cause: f.cause, err: f.message, hint: f.hint, delay_ms: Math.round(delay), attempt: this.#attempt };
    // Each new cause is logged at once; the same cause again once a minute (the attempts go on every few seconds).
    const now = Date.now();
    if (f.cause !== this.#reported.cause || now - this.#reported.at >= 60_000) {
      this.#reported = { cause: f.cause, at: now };
      const msg = `ARI connection failed: ${f.message}${f.hint ? ` (${f.hint})` : ''}; reconnecting`;
      if (f.config) this.#opts.logger.error(fields, msg);
      else this.#opts.logger.warn(fields, msg);
    } else {
      this.#opts.logger.debug(fields, 'ARI reconnecting');
    }
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000).unref();
    });
  }
}

/** host:port of ARI_URL, for messages (no credentials, no path). */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.host || url;
  } catch {
    return url;
  }
}
