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

  constructor(opts: AriEventsOptions) {
    super(opts.logger);
    this.#opts = { reconnectMinMs: 200, reconnectMaxMs: 10_000, heartbeatMs: 10_000, ...opts };
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
    const ws = new WebSocket(wsUrl, {
      headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') },
      handshakeTimeout: 5_000,
    });
    this.#ws = ws;
    let alive = true;
    ws.on('open', () => {
      this.#attempt = 0;
      this.#connected = true;
      this.#opts.logger.info({ app }, 'ARI connected');
      this.#heartbeat = setInterval(() => {
        if (!alive) return ws.terminate();
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
      this.#opts.logger.error({ status: res.statusCode }, 'ARI WebSocket refused');
      ws.terminate();
    });
    ws.on('error', (err) => this.#opts.logger.debug({ err: err.message }, 'ARI WebSocket error'));
    ws.on('close', () => {
      clearInterval(this.#heartbeat);
      const was = this.#connected;
      this.#connected = false;
      if (was) this.emit('disconnected', undefined);
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const { reconnectMinMs, reconnectMaxMs } = this.#opts;
    const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** this.#attempt++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#opts.logger.info({ delay_ms: Math.round(delay), attempt: this.#attempt }, 'ARI reconnecting');
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
