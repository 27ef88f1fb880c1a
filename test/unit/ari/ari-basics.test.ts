import { describe, expect, it } from 'vitest';
import { StasisWaiter } from '../../../src/ari/stasis-waiter.js';
import { openSnoopStream } from '../../../src/recorder/capture.js';
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
  it('expect(): the timeout runs from arm(), not from the registration (a slow Asterisk answers its creation late)', async () => {
    const w = new StasisWaiter();
    const e = w.expect('d');
    await new Promise((r) => setTimeout(r, 60)); // the creating request takes longer than the timeout
    e.arm(40);
    setTimeout(() => w.onEvent(stasisStart('d')), 10);
    await expect(e.ready).resolves.toBeUndefined();
    const late = w.expect('e');
    late.arm(20);
    await expect(late.ready).rejects.toThrow(/no StasisStart for channel e within 20 ms/);
  });
  it('expect(): cancel rejects and forgets the waiter; an event first makes arm and cancel no-ops', async () => {
    const w = new StasisWaiter();
    const e = w.expect('f');
    e.cancel('setup failed');
    await expect(e.ready).rejects.toThrow('setup failed');
    w.onEvent(stasisStart('f')); // nobody waits any more: remembered for a later wait
    await expect(w.wait('f', 10)).resolves.toBeUndefined();
    const g = w.expect('g');
    w.onEvent(stasisStart('g'));
    g.arm(1);
    g.cancel('too late');
    await expect(g.ready).resolves.toBeUndefined();
  });
});

describe('openSnoopStream on a slow Asterisk', () => {
  it('a snoop answered after more than the StasisStart timeout, its event right after: the stream is set up', async () => {
    const stasis = new StasisWaiter();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const startSoon = (id: string) => setTimeout(() => stasis.onEvent(stasisStart(id)), 10);
    const calls: string[] = [];
    const rest = {
      snoop: async (_c: string, p: { snoopId: string }) => (await sleep(250), startSoon(p.snoopId), {}),
      externalMedia: async (p: { channelId: string }) => (startSoon(p.channelId), { id: p.channelId, channelvars: { UNICASTRTP_LOCAL_ADDRESS: '127.0.0.1', UNICASTRTP_LOCAL_PORT: '4000' } }),
      createBridge: async () => ({}),
      addChannel: async () => void calls.push('addChannel'),
      hangup: async (id: string) => void calls.push(`hangup ${id}`),
      destroyBridge: async (id: string) => void calls.push(`destroyBridge ${id}`),
    };
    const ari = { rest, stasis, app: 'recorder' } as unknown as Parameters<typeof openSnoopStream>[0];
    const settings = { stasisTimeoutMs: 150, rtpAdvertiseHost: '127.0.0.1' } as unknown as Parameters<typeof openSnoopStream>[1];
    const s = await openSnoopStream(ari, settings, { recordingId: '11111111-1111-1111-1111-111111111111', channelId: 'call-1', spy: 'in', tag: 'in', port: 5000, expectSource: async () => undefined });
    expect(s.snoopId).toBe(resourceId('11111111-1111-1111-1111-111111111111', 'snoop-in'));
    expect(calls).toEqual(['addChannel']);
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
