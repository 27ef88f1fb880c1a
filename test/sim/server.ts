/**
 * The HTTP + WebSocket face of the simulator: `/ari/...` REST with Asterisk's authentication, routing errors
 * and error bodies, and `/ari/events` WebSocket upgrades.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AsteriskEngine } from './engine.js';
import { AriError } from './errors.js';
import { type OperationId, collectParams } from './params.js';
import { resolveRoute } from './router.js';
import { bridgeHandlers } from './routes/bridges.js';
import { channelHandlers } from './routes/channels.js';
import { miscHandlers } from './routes/misc.js';
import type { HandlerTable, RouteResponse } from './routes/types.js';
import { httpDate } from './time.js';

export interface RequestLogEntry {
  /** simulator ms */
  atMs: number;
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** operation id when the path matched a simulated operation */
  operation?: OperationId;
  status: number;
  response: unknown;
}

export interface Failure {
  status: number;
  body: unknown;
  reason?: string;
}

export interface ServerHooks {
  engine: AsteriskEngine;
  username: string;
  password: string;
  requestLog: RequestLogEntry[];
  takeFailure(op: OperationId): Failure | undefined;
  /** ms to sit on this request before doing it (a slow Asterisk; the client may have given up by then) */
  takeDelay(op: OperationId): number;
  externalMediaRace(): number;
}

const HANDLERS: HandlerTable = { ...miscHandlers, ...channelHandlers, ...bridgeHandlers };
const SERVER_HEADER = 'Asterisk/22.10.1';

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found',
  405: 'Method Not Allowed', 409: 'Conflict', 412: 'Precondition Failed', 422: 'Unprocessable Entity',
  426: 'Upgrade Required', 500: 'Internal Server Error', 501: 'Not Implemented',
};

export class AriHttpServer {
  private server: http.Server | null = null;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<Duplex>();
  private readonly clients = new Set<WebSocket>();
  private port = 0;

  constructor(private readonly hooks: ServerHooks) {}

  get listeningPort(): number {
    return this.port;
  }

  get webSocketCount(): number {
    return this.clients.size;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    return this.port;
  }

  /** Stops listening and cuts every connection (HTTP keep-alive and WebSockets): connections are refused afterwards. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.dropWebSockets();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The event WebSockets go away (abruptly, like a crash or a network cut); new connections are accepted. */
  dropWebSockets(): void {
    for (const ws of this.clients) ws.terminate();
    this.clients.clear();
  }

  private authenticate(req: http.IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    if (header) {
      const m = /^Basic\s+(.+)$/i.exec(header);
      if (!m) return false;
      const decoded = Buffer.from(m[1], 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      return i >= 0 && decoded.slice(0, i) === this.hooks.username && decoded.slice(i + 1) === this.hooks.password;
    }
    for (const [k, v] of url.searchParams) {
      if (k.toLowerCase() === 'api_key') {
        const i = v.indexOf(':');
        return i >= 0 && v.slice(0, i) === this.hooks.username && v.slice(i + 1) === this.hooks.password;
      }
    }
    return false;
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    if (!this.authenticate(req, url)) {
      writeRaw(socket, 401, 'Unauthorized', 'application/json', JSON.stringify({ message: 'Authentication required' }), {
        'WWW-Authenticate': 'Basic realm="Asterisk REST Interface"',
      });
      return;
    }
    if (url.pathname !== '/ari/events') {
      writeRaw(socket, 404, 'Not Found', 'application/json', JSON.stringify({ message: 'Resource not found' }));
      return;
    }
    const apps = url.searchParams.getAll('app').join(',').split(',').map((a) => a.trim()).filter(Boolean);
    if (apps.length === 0) {
      const html =
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n</head><body>\r\n' +
        '<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n';
      writeRaw(socket, 400, 'Bad Request', 'text/html', html);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      const sink = {
        send: (data: string) => {
          if (ws.readyState === ws.OPEN) ws.send(data);
        },
      };
      const all = url.searchParams.get('subscribeAll');
      this.hooks.engine.bus.register(apps, sink, all === 'true' || all === 'yes' || all === '1');
      ws.on('close', () => {
        this.clients.delete(ws);
        this.hooks.engine.bus.unregister(sink);
      });
      ws.on('error', () => undefined);
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    // Asterisk routes the path as sent, decoding each segment (res_ari.c): no `.`/`..` normalization as URL does.
    const pathname = (req.url ?? '/').split(/[?#]/)[0] || '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    const entry: RequestLogEntry = {
      atMs: this.hooks.engine.nowMs(),
      method,
      path: pathname,
      query: Object.fromEntries(url.searchParams),
      body: raw.length > 0 ? tryJson(raw) : null,
      status: 0,
      response: null,
    };
    let out: RouteResponse;
    try {
      out = await this.dispatch(req, url, pathname, method, raw, entry);
    } catch (err) {
      out = err instanceof AriError
        ? { status: err.status, reason: err.reason, body: { message: err.message } }
        : { status: 500, reason: 'Internal Server Error', body: { message: `ARI simulator error: ${String(err)}` } };
    }
    entry.status = out.status;
    entry.response = out.body ?? null;
    this.hooks.requestLog.push(entry);
    send(res, out);
  }

  private async dispatch(req: http.IncomingMessage, url: URL, pathname: string, method: string, raw: Buffer, entry: RequestLogEntry): Promise<RouteResponse> {
    if (!this.authenticate(req, url)) {
      return {
        status: 401,
        reason: 'Unauthorized',
        body: { message: 'Authentication required' },
        headers: { 'WWW-Authenticate': 'Basic realm="Asterisk REST Interface"' },
      };
    }
    if (!pathname.startsWith('/ari/') && pathname !== '/ari') {
      return { status: 404, reason: 'Not Found', body: { message: 'Resource not found' } };
    }
    const route = resolveRoute(method, pathname.slice(4));
    switch (route.kind) {
      case 'notFound':
        return { status: 404, reason: 'Not Found', body: { message: route.message } };
      case 'methodNotAllowed':
        return { status: 405, reason: 'Method Not Allowed', body: { message: 'Invalid method' }, headers: { Allow: route.allow } };
      case 'unimplemented':
        return { status: 501, reason: 'Not Implemented', body: { message: `Not implemented by the ARI simulator: ${method} ${route.template}` } };
      case 'op':
        break;
    }
    const op = route.op;
    entry.operation = op.id;
    if (op.id === 'events.eventWebsocket') {
      return { status: 426, reason: 'Upgrade Required', body: { message: 'Upgrade Required' } };
    }
    let json: Record<string, unknown> | null = null;
    if (raw.length > 0 && /json/i.test(req.headers['content-type'] ?? 'application/json')) {
      const parsed = tryJson(raw);
      if (parsed === undefined) throw new AriError(400, 'Bad Request', 'Error parsing request body');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
    }
    const failure = this.hooks.takeFailure(op.id);
    if (failure) return { status: failure.status, reason: failure.reason ?? REASONS[failure.status] ?? 'Error', body: failure.body };
    const handler = HANDLERS[op.id];
    if (!handler) return { status: 501, reason: 'Not Implemented', body: { message: `Not implemented by the ARI simulator: ${op.id}` } };
    const { params, variables } = collectParams(op, url.searchParams, route.pathVars, json);
    const delay = this.hooks.takeDelay(op.id);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return handler({ engine: this.hooks.engine, params, variables, externalMediaRace: () => this.hooks.externalMediaRace() });
  }
}

function send(res: http.ServerResponse, out: RouteResponse): void {
  res.statusCode = out.status;
  res.statusMessage = out.reason ?? REASONS[out.status] ?? '';
  res.setHeader('Server', SERVER_HEADER);
  res.setHeader('Date', httpDate());
  res.setHeader('Cache-Control', 'no-cache, no-store');
  for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
  let payload: string | undefined;
  if (out.status !== 204 && out.body !== undefined) {
    payload = JSON.stringify(out.body);
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(payload));
  } else {
    res.setHeader('Content-Length', 0);
  }
  res.end(payload, () => out.after?.());
}

function writeRaw(socket: Duplex, status: number, reason: string, contentType: string, body: string, extra: Record<string, string> = {}): void {
  const headers = [
    `HTTP/1.1 ${status} ${reason}`,
    `Server: ${SERVER_HEADER}`,
    `Date: ${httpDate()}`,
    'Connection: close',
    'Cache-Control: no-cache, no-store',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    `Content-Type: ${contentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

function tryJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
