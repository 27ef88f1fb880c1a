import { Webhook } from 'standardwebhooks';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedWebhook {
  /** parsed JSON body (undefined when not JSON) */
  body: { id?: string; type?: string; data?: unknown } & Record<string, unknown>;
  rawBody: string;
  headers: IncomingHttpHeaders;
  /** webhook-signature verified by the Standard Webhooks library (within its 5-minute tolerance) */
  signatureValid: boolean;
  /** status we answered */
  status: number;
  at: number;
}

export type ReceiverMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'down' };

/**
 * HTTP server on a free loopback port that records every webhook it gets (answered or not).
 * `fail(status)` answers that status; `down()` closes the listening socket (connection refused); `ok()` heals both.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Only the requests answered 2xx. */
  get delivered(): ReceivedWebhook[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }
  #server: Server | undefined;
  #port = 0;
  #mode: ReceiverMode = { kind: 'ok' };
  #sockets = new Set<Socket>();
  #waiters = new Set<() => void>();
  #responder: ((body: ReceivedWebhook['body'], received: ReceivedWebhook[]) => number | undefined) | undefined;

  constructor(readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hook`;
  }

  async start(): Promise<this> {
    await this.#listen(0);
    return this;
  }

  /** Answer every request with this status (e.g. 500, 404, 429). */
  fail(status = 500): void {
    this.#mode = { kind: 'status', status };
  }

  /**
   * Decide the status per request (e.g. fail one event type a few times); return undefined to fall back to the mode.
   * `received` holds the earlier requests (not this one).
   */
  respondWith(fn: ((body: ReceivedWebhook['body'], received: ReceivedWebhook[]) => number | undefined) | undefined): void {
    this.#responder = fn;
  }

  /** Stop listening (connections refused) until ok(). */
  async down(): Promise<void> {
    this.#mode = { kind: 'down' };
    await this.#closeServer();
  }

  async ok(): Promise<void> {
    const wasDown = this.#mode.kind === 'down';
    this.#mode = { kind: 'ok' };
    if (wasDown || !this.#server) await this.#listen(this.#port);
  }

  /** Resolves once predicate(received) is true; rejects after timeoutMs with what was received. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.received)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.received)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`webhook receiver: condition not met in ${timeoutMs} ms; got ${JSON.stringify(this.received.map((r) => [r.status, r.body.type, r.body.id]))}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  async stop(): Promise<void> {
    this.#mode = { kind: 'down' };
    await this.#closeServer();
  }

  /** Verifies as a receiver would, with the stock Standard Webhooks library (signature and a 5-minute tolerance). */
  verify(rawBody: string, headers: IncomingHttpHeaders): boolean {
    const h = (n: string) => (typeof headers[n] === 'string' ? (headers[n] as string) : '');
    try {
      new Webhook(this.secret).verify(rawBody, { 'webhook-id': h('webhook-id'), 'webhook-timestamp': h('webhook-timestamp'), 'webhook-signature': h('webhook-signature') });
      return true;
    } catch {
      return false;
    }
  }

  #listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        let body: ReceivedWebhook['body'] = {};
        try {
          body = JSON.parse(rawBody) as ReceivedWebhook['body'];
        } catch {
          /* recorded as {} */
        }
        const status = this.#responder?.(body, this.received) ?? (this.#mode.kind === 'status' ? this.#mode.status : 204);
        this.received.push({ body, rawBody, headers: req.headers, signatureValid: this.verify(rawBody, req.headers), status, at: Date.now() });
        res.statusCode = status;
        res.end();
        for (const w of [...this.#waiters]) w();
      });
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.#port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #closeServer(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

/** A Standard Webhooks secret for tests (whsec_ + base64 of 32 bytes). */
export const TEST_WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

export async function startWebhookReceiver(secret: string = TEST_WEBHOOK_SECRET): Promise<WebhookReceiver> {
  return new WebhookReceiver(secret).start();
}
