/**
 * AriEvents says why it cannot connect (issue 12): connection refused, 401 with the hint to check
 * ARI_USER/ARI_PASSWORD, a handshake timeout, a dropped connection — instead of only "reconnecting". The same cause
 * is logged once, not at every attempt.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { AriEvents } from '../../../src/ari/ari-events.js';
import { freePort } from '../../../src/embedded-redis.js';
import { createLogger } from '../../../src/logger.js';

interface Line {
  level: number;
  msg: string;
  cause?: string;
  hint?: string;
}

let events: AriEvents | undefined;
let wss: WebSocketServer | undefined;
let tcp: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  await events?.close();
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
  await new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r()));
  events = wss = tcp = undefined;
});

function connect(port: number, extra: Partial<ConstructorParameters<typeof AriEvents>[0]> = {}) {
  const lines: Line[] = [];
  const logger = createLogger('debug', { write: (l: string) => lines.push(JSON.parse(l) as Line) });
  events = new AriEvents({ url: `http://127.0.0.1:${port}`, username: 'u', password: 'wrong', app: 'recorder', logger, reconnectMinMs: 10, reconnectMaxMs: 20, ...extra });
  void events.start();
  const failures = () => lines.filter((l) => l.level >= 40);
  return { lines, failures };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ARI connection failures are logged with their cause', () => {
  it('connection refused: one warning naming it, not one per attempt', async () => {
    const port = await freePort();
    const { lines, failures } = connect(port);
    await until(() => lines.filter((l) => l.msg === 'ARI reconnecting').length >= 5);
    expect(failures()).toHaveLength(1);
    expect(failures()[0]).toMatchObject({ level: 40, cause: 'connection_refused' });
    expect(failures()[0].msg).toMatch(new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}.*ARI_URL.*reconnecting`));
  });

  it('401: an error with the hint to check ARI_USER/ARI_PASSWORD (the password itself never logged)', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (_info, cb) => cb(false, 401, 'Unauthorized') });
    await new Promise<void>((r) => wss!.once('listening', () => r()));
    const { lines, failures } = connect((wss.address() as AddressInfo).port);
    await until(() => failures().length > 0);
    expect(failures()[0]).toMatchObject({ level: 50, cause: 'unauthorized', hint: 'check ARI_USER/ARI_PASSWORD against ari.conf' });
    expect(failures()[0].msg).toMatch(/401.*ARI_USER\/ARI_PASSWORD/);
    expect(JSON.stringify(lines)).not.toContain('wrong');
  });

  it('a server that never answers the handshake: a timeout', async () => {
    tcp = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => tcp!.listen(0, '127.0.0.1', () => r()));
    const { failures } = connect((tcp.address() as AddressInfo).port, { handshakeTimeoutMs: 200 });
    await until(() => failures().length > 0);
    expect(failures()[0]).toMatchObject({ level: 40, cause: 'timeout' });
    expect(failures()[0].msg).toMatch(/did not answer the WebSocket handshake within 0\.2 s/);
  });

  it('a connection Asterisk drops: "ARI disconnected" with the close code, then "connected again"', async () => {
    const conns: WebSocket[] = [];
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ari/events' });
    wss.on('connection', (ws) => conns.push(ws));
    await new Promise<void>((r) => wss!.once('listening', () => r()));
    const { lines } = connect((wss.address() as AddressInfo).port);
    await until(() => conns.length === 1 && events!.connected);
    conns[0].close(1001, 'going away');
    await until(() => conns.length === 2 && events!.connected);
    const dropped = lines.find((l) => l.msg === 'ARI disconnected');
    expect(dropped).toMatchObject({ level: 40, cause: 'connection_lost' });
    expect(JSON.stringify(dropped)).toContain('1001: going away');
    expect(lines.some((l) => l.msg === 'ARI connected again')).toBe(true);
  });
});
