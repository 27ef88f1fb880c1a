import { describe, expect, it } from 'vitest';
import { StasisWaiter } from '../../../src/ari/stasis-waiter.js';
import { parseAriEvent, type AriEvent } from '../../../src/ari/types.js';
import { isOwnResource, recordingIdOf, resourceId } from '../../../src/recorder/ari-ids.js';

const channel = (id: string) => ({ id, name: `PJSIP/${id}`, state: 'Up' });
const stasisStart = (id: string): AriEvent => ({ type: 'StasisStart', application: 'recorder', timestamp: '', args: [], channel: channel(id) });

describe('parseAriEvent', () => {
  it('types the events we act on and ignores the rest', () => {
    expect(parseAriEvent(stasisStart('1.1'))?.type).toBe('StasisStart');
    expect(parseAriEvent({ type: 'ChannelVarset', application: 'recorder', timestamp: '' })).toBeNull();
    expect(parseAriEvent({ type: 'BridgeDestroyed', application: 'a', timestamp: '', bridge: { id: 'b', channels: [] } })?.type).toBe('BridgeDestroyed');
  });
  it('throws on malformed events', () => {
    expect(() => parseAriEvent('x')).toThrow();
    expect(() => parseAriEvent({})).toThrow();
    expect(() => parseAriEvent({ type: 'StasisStart', args: [] })).toThrow(/malformed/);
    expect(() => parseAriEvent({ type: 'ChannelLeftBridge', bridge: { id: 'b' } })).toThrow(/malformed/);
  });
});

describe('StasisWaiter', () => {
  it('resolves when StasisStart arrives after the wait began', async () => {
    const w = new StasisWaiter();
    const p = w.wait('a', 1000);
    w.onEvent(stasisStart('a'));
    await expect(p).resolves.toBeUndefined();
  });
  it('resolves at once when StasisStart came before the REST answer (the race Asterisk shows)', async () => {
    const w = new StasisWaiter();
    w.onEvent(stasisStart('b'));
    await expect(w.wait('b', 10)).resolves.toBeUndefined();
  });
  it('times out', async () => {
    const w = new StasisWaiter();
    await expect(w.wait('c', 20)).rejects.toThrow(/no StasisStart/);
  });
});

describe('resource ids', () => {
  it('maps our ARI objects back to their recording', () => {
    const rid = '0b0f8f7e-9a31-4a52-8d0e-6f3b1a2c4d5e';
    const id = resourceId(rid, 'snoop-in');
    expect(isOwnResource(id)).toBe(true);
    expect(recordingIdOf(id)).toBe(rid);
    expect(recordingIdOf('1795579021.0')).toBeNull();
    expect(isOwnResource('1795579021.0')).toBe(false);
  });
});

describe('AriRest answers are checked', () => {
  it('rejects a channel or bridge answer of the wrong shape', async () => {
    const { createServer } = await import('node:http');
    const { AriRest } = await import('../../../src/ari/ari-rest.js');
    const srv = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url?.startsWith('/ari/bridges') ? JSON.stringify({ id: 'b' }) : JSON.stringify({ id: 'c', name: 'x', state: 'Up' }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const rest = new AriRest({ url: `http://127.0.0.1:${port}`, username: 'u', password: 'p' });
    try {
      await expect(rest.getChannel('c')).resolves.toMatchObject({ id: 'c', state: 'Up' });
      await expect(rest.getBridge('b')).rejects.toThrow(/unexpected answer shape/);
      await expect(rest.listChannels()).rejects.toThrow(/unexpected answer shape/);
    } finally {
      srv.close();
    }
  });
});
