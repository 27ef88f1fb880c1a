/**
 * AriEvents against a local WebSocket server: a listener that throws (or rejects) is logged and neither the
 * other listeners nor the next events are lost.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { AriEvents } from '../../../src/ari/ari-events.js';
import type { AriEvent } from '../../../src/ari/types.js';
import { createLogger } from '../../../src/logger.js';
import { LISTENER_FAILED } from '../../../src/util/guarded-emitter.js';

const stasisStart = (id: string) => ({
  type: 'StasisStart',
  application: 'recorder',
  timestamp: '',
  args: [],
  channel: { id, name: `PJSIP/${id}`, state: 'Up' },
});

let server: WebSocketServer | undefined;
let events: AriEvents | undefined;

afterEach(async () => {
  await events?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = events = undefined;
});

async function setup() {
  const sockets: WebSocket[] = [];
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ari/events' });
  server.on('connection', (ws) => sockets.push(ws));
  await new Promise<void>((r) => server!.once('listening', () => r()));
  const port = (server.address() as AddressInfo).port;
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  events = new AriEvents({ url: `http://127.0.0.1:${port}`, username: 'u', password: 'p', app: 'recorder', logger, heartbeatMs: 60_000 });
  return { events, sockets, failures: () => lines.filter((l) => l.code === LISTENER_FAILED) };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('AriEvents guarded listeners', () => {
  it('a throwing or rejecting event listener is logged; the other listeners and the next events still run', async () => {
    const { events, sockets, failures } = await setup();
    const seen: string[] = [];
    events.on('event', () => {
      throw new Error('listener bug');
    });
    events.on('event', async () => {
      throw new Error('async listener bug');
    });
    events.on('event', (ev: AriEvent) => seen.push(ev.type === 'StasisStart' ? ev.channel.id : ev.type));
    await events.start();
    sockets[0].send(JSON.stringify(stasisStart('a')));
    sockets[0].send(JSON.stringify(stasisStart('b')));
    await until(() => seen.length === 2 && failures().length === 4);
    expect(seen).toEqual(['a', 'b']);
    expect(failures().map((l) => [l.event, (l.err as { message: string }).message]).sort()).toEqual([
      ['event', 'async listener bug'],
      ['event', 'async listener bug'],
      ['event', 'listener bug'],
      ['event', 'listener bug'],
    ]);
    expect(events.connected).toBe(true);
  });

  it("a throwing 'connected' listener neither blocks start() nor the events after it", async () => {
    const { events, sockets, failures } = await setup();
    const seen: string[] = [];
    events.on('connected', () => {
      throw new Error('connected listener bug');
    });
    events.on('event', (ev: AriEvent) => seen.push(ev.type));
    await events.start();
    sockets[0].send(JSON.stringify(stasisStart('c')));
    await until(() => seen.length === 1);
    expect(failures()).toMatchObject([{ code: LISTENER_FAILED, event: 'connected', err: { message: 'connected listener bug' } }]);
  });
});
