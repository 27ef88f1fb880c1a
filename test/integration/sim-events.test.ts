/** Event choreography, races, errors and Asterisk-down behaviour of the simulator. */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AriSimulator } from '../sim/index.js';
import { AriTestClient, type EventCollector, startSimSession, stopSimSession, RtpCapture, chId, isEvent } from '../sim/harness.js';
import { startRecordingLeg } from '../sim/scenario.js';
import type { AriEvent, BridgeJson, ChannelJson } from '../sim/types.js';

let sim: AriSimulator;
let ari: AriTestClient;
let events: EventCollector;

beforeAll(async () => {
  ({ sim, ari, events } = await startSimSession({ audioDelayMs: 50 }));
});
afterAll(() => stopSimSession({ sim, events }));

const typesFor = (evs: AriEvent[], id: string) => evs.filter((e) => chId(e) === id).map((e) => (e.type === 'ChannelVarset' ? `Varset:${String(e.variable)}=${String(e.value)}` : e.type));

describe('call and recording choreography', () => {
  it('originate emits Dial…StasisStart like Asterisk, with the envelope fields', async () => {
    const from = events.events.length;
    const res = await ari.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/tone440@test', app: 'recorder' });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('Down');
    expect(res.body.name).toMatch(/^Local\/tone440@test-[0-9a-f]{8};1$/);
    expect(res.body.id).toMatch(/^\d+\.\d+$/);
    expect(res.body.dialplan).toEqual({ context: 'test', exten: 'tone440', priority: 1, app_name: 'AppDial2', app_data: '(Outgoing Line)' });
    await events.waitFor(isEvent('StasisStart', res.body.id));
    const evs = events.events.slice(from);
    expect(evs.slice(0, 7).map((e) => e.type)).toEqual(['Dial', 'ChannelDialplan', 'ChannelStateChange', 'ChannelStateChange', 'Dial', 'ChannelVarset', 'StasisStart']);
    const start = evs[6];
    expect(start).toMatchObject({ args: [], asterisk_id: '02:fc:00:00:00:01', application: 'recorder' });
    expect(String(start.timestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect((start.channel as ChannelJson).dialplan.app_name).toBe('Stasis');
    await ari.request('DELETE', `/channels/${res.body.id}`);
  });

  it('snoop StasisStart comes after the 200; addChannel before it → 422; snoop ends with StasisEnd only; em and bridge remain', async () => {
    sim.setRace({ snoopStasisDelayMs: 400 });
    const call = await sim.placeCall({ exten: 'tone440' });
    const rx = await RtpCapture.open();
    const em = await ari.request<ChannelJson>('POST', '/channels/externalMedia', { app: 'recorder', external_host: `127.0.0.1:${rx.port}`, format: 'slin16' });
    expect(em.body.state).toBe('Down');
    expect(em.body.channelvars?.UNICASTRTP_LOCAL_ADDRESS).toBe('127.0.0.1');
    expect(em.body.name).toMatch(new RegExp(`^UnicastRTP/127\\.0\\.0\\.1:${rx.port}-0x[0-9a-f]{12}$`));
    const snoop = await ari.request<ChannelJson>('POST', `/channels/${call}/snoop`, { spy: 'in', app: 'recorder' });
    expect(snoop.body.name).toMatch(new RegExp(`^Snoop/${call.replace('.', '\\.')}-[0-9a-f]{8}$`));
    expect(events.events.some(isEvent('StasisStart', snoop.body.id))).toBe(false);
    const bridge = await ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing' });
    expect(bridge.body).toMatchObject({ technology: 'simple_bridge', bridge_type: 'mixing', bridge_class: 'stasis', creator: 'Stasis', channels: [], video_mode: 'talker' });
    const early = await ari.request('POST', `/bridges/${bridge.body.id}/addChannel`, { channel: `${snoop.body.id},${em.body.id}` });
    expect(early.status).toBe(422);
    expect(early.body).toEqual({ message: 'Channel not in Stasis application' });
    await events.waitFor(isEvent('StasisStart', snoop.body.id));
    const add = await ari.request('POST', `/bridges/${bridge.body.id}/addChannel`, { channel: `${snoop.body.id},${em.body.id}` });
    expect(add.status).toBe(204);
    await events.waitFor((e) => isEvent('ChannelVarset', em.body.id)(e) && e.value === snoop.body.name);
    sim.setRace({ snoopStasisDelayMs: 2 });

    const from = events.events.length;
    await sim.hangup(call);
    await events.waitFor(isEvent('ChannelDestroyed', call));
    const evs = events.events.slice(from);
    expect(typesFor(evs, snoop.body.id)).toEqual(['Varset:BRIDGEPEER=', 'ChannelLeftBridge', 'StasisEnd']);
    expect(typesFor(evs, call)).toEqual(['ChannelHangupRequest', 'StasisEnd', 'Varset:STASISSTATUS=SUCCESS', 'ChannelDestroyed']);
    const snoopEnd = evs.findIndex(isEvent('StasisEnd', snoop.body.id));
    expect(snoopEnd).toBeLessThan(evs.findIndex(isEvent('ChannelDestroyed', call)));
    expect(evs.findIndex(isEvent('StasisEnd', call))).toBeLessThan(snoopEnd);
    expect((await ari.request('GET', `/channels/${snoop.body.id}`)).status).toBe(404);
    expect((await ari.request<ChannelJson>('GET', `/channels/${em.body.id}`)).body.state).toBe('Up');
    expect((await ari.request<BridgeJson>('GET', `/bridges/${bridge.body.id}`)).body.channels).toEqual([em.body.id]);

    // cleanup the way the product must: DELETE em → full teardown; DELETE bridge → BridgeDestroyed
    const from2 = events.events.length;
    expect((await ari.request('DELETE', `/channels/${em.body.id}`)).status).toBe(204);
    expect((await ari.request('DELETE', `/bridges/${bridge.body.id}`)).status).toBe(204);
    await events.waitFor((e) => e.type === 'BridgeDestroyed' && (e.bridge as BridgeJson).id === bridge.body.id);
    expect(typesFor(events.events.slice(from2), em.body.id)).toEqual(['ChannelHangupRequest', 'Varset:BRIDGEPEER=', 'ChannelLeftBridge', 'StasisEnd', 'Varset:STASISSTATUS=SUCCESS', 'ChannelDestroyed']);
    const hr = events.events.slice(from2).find(isEvent('ChannelHangupRequest', em.body.id));
    expect(hr).toMatchObject({ cause: 32, soft: true });
    rx.close();
  });

  it('externalMedia race: the 200 can precede StasisStart, and addChannel then fails with 422', async () => {
    sim.setRace({ externalMediaStasisDelayMs: 400, externalMediaRaceProbability: 1 });
    const em1 = await ari.request<ChannelJson>('POST', '/channels/externalMedia', { app: 'recorder', external_host: '127.0.0.1:9', format: 'slin' });
    const em2 = await ari.request<ChannelJson>('POST', '/channels/externalMedia', { app: 'recorder', external_host: '127.0.0.1:9', format: 'slin' });
    const b = await ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing' });
    expect(events.events.some(isEvent('StasisStart', em1.body.id))).toBe(false);
    const r = await ari.request('POST', `/bridges/${b.body.id}/addChannel`, { channel: `${em1.body.id},${em2.body.id}` });
    expect(r.status).toBe(422);
    expect((await ari.request<BridgeJson>('GET', `/bridges/${b.body.id}`)).body.channels).toEqual([]);
    await events.waitFor(isEvent('StasisStart', em2.body.id));
    sim.setRace({ externalMediaStasisDelayMs: 0 });
    expect((await ari.request('POST', `/bridges/${b.body.id}/addChannel`, { channel: `${em1.body.id},${em2.body.id}` })).status).toBe(204);
    for (const id of [em1.body.id, em2.body.id]) await ari.request('DELETE', `/channels/${id}`);
    await ari.request('DELETE', `/bridges/${b.body.id}`);
  });

  it('ARI hangup of the call: cause 32, ;2 torn down, snoops end ~16 ms later', async () => {
    const call = await sim.placeCall({ exten: 'tone440' });
    const rx = await RtpCapture.open();
    const leg = await startRecordingLeg(ari, events, { callId: call, spy: 'both', rtpPort: rx.port });
    const base = sim.getChannel(call)!.name.slice(0, -2);
    await events.waitFor((e) => e.type === 'ChannelDialplan' && e.dialplan_app === 'Playback' && (e.channel as ChannelJson).name === `${base};2`);
    const from = events.events.length;
    expect((await ari.request('DELETE', `/channels/${call}`, { reason: 'normal' })).status).toBe(204);
    await events.waitFor(isEvent('ChannelDestroyed', call));
    const evs = events.events.slice(from);
    expect(evs.find(isEvent('ChannelHangupRequest', call))).toMatchObject({ cause: 32, soft: true });
    expect(typesFor(evs, leg.snoop.id)).toEqual(['Varset:BRIDGEPEER=', 'ChannelLeftBridge', 'StasisEnd']);
    const ch2 = evs.filter((e) => (e.channel as ChannelJson | undefined)?.name.endsWith(';2')).map((e) => e.type);
    expect(ch2).toEqual(['ChannelHangupRequest', 'ChannelVarset', 'ChannelHangupRequest', 'ChannelDestroyed']);
    const dt = Date.parse(String(evs.find(isEvent('StasisEnd', leg.snoop.id))!.timestamp).replace('+0000', 'Z')) - Date.parse(String(evs.find(isEvent('StasisEnd', call))!.timestamp).replace('+0000', 'Z'));
    expect(dt).toBeGreaterThanOrEqual(10);
    expect((await ari.request('DELETE', `/channels/${call}`)).status).toBe(404);
    await ari.request('DELETE', `/channels/${leg.em.id}`);
    await ari.request('DELETE', `/bridges/${leg.bridge.id}`);
    rx.close();
  });

  it('DELETE of a bridge with members: ChannelLeftBridge for each, then BridgeDestroyed; members stay in Stasis', async () => {
    const a = await sim.placeCall({ exten: 'tone440' });
    const b = await sim.placeCall({ exten: 'tone700' });
    const c = await sim.placeCall({ exten: 'tone1000' });
    const br = await ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing', name: 'conf1' });
    for (const id of [a, b]) await ari.request('POST', `/bridges/${br.body.id}/addChannel`, { channel: id });
    const two = await events.waitFor((e) => e.type === 'ChannelEnteredBridge' && chId(e) === b);
    expect((two.bridge as BridgeJson).technology).toBe('simple_bridge');
    await ari.request('POST', `/bridges/${br.body.id}/addChannel`, { channel: c });
    const three = await events.waitFor((e) => e.type === 'ChannelEnteredBridge' && chId(e) === c);
    expect((three.bridge as BridgeJson).technology).toBe('simple_bridge'); // switched right after this join, as captured
    expect((await ari.request<BridgeJson>('GET', `/bridges/${br.body.id}`)).body.technology).toBe('softmix');
    const peer = await events.waitFor((e) => e.type === 'ChannelVarset' && chId(e) === a && String(e.value).includes(','));
    expect(String(peer.value).split(',')).toEqual([sim.getChannel(c)!.name, sim.getChannel(b)!.name].sort());
    const from = events.events.length;
    await ari.request('DELETE', `/bridges/${br.body.id}`);
    await events.waitFor((e) => e.type === 'BridgeDestroyed' && (e.bridge as BridgeJson).id === br.body.id);
    const bridgeTypes = new Set(['ChannelVarset', 'ChannelLeftBridge', 'BridgeDestroyed']);
    const evs = events.events.slice(from).map((e) => e.type).filter((t) => bridgeTypes.has(t));
    expect(evs).toEqual(['ChannelVarset', 'ChannelVarset', 'ChannelVarset', 'ChannelLeftBridge', 'ChannelLeftBridge', 'ChannelLeftBridge', 'BridgeDestroyed']);
    expect(sim.getChannel(a)?.state).toBe('Up');
    for (const id of [a, b, c]) await ari.request('DELETE', `/channels/${id}`);
  });
});

describe('dialplan-driven scenarios', () => {
  it('flow: StasisStart with args, continue → StasisEnd, the snoop keeps streaming until the call ends', async () => {
    const call = await sim.enterStasisFromDialplan({ exten: 'tone440' }, ['recording_start']);
    const start = await events.waitFor(isEvent('StasisStart', call));
    expect(start.args).toEqual(['recording_start']);
    expect(events.events.filter((e) => chId(e) === call).map((e) => e.type)).toEqual(['StasisStart']);
    const rx = await RtpCapture.open();
    const leg = await startRecordingLeg(ari, events, { callId: call, spy: 'both', rtpPort: rx.port });
    expect((await ari.request('POST', `/channels/${call}/continue`)).status).toBe(204);
    await events.waitFor(isEvent('StasisEnd', call));
    const n = rx.packets.length;
    await vi.waitFor(() => expect(rx.packets.length).toBeGreaterThan(n + 2), { timeout: 3000, interval: 20 });
    sim.playTone(call, 'out', { type: 'tone', freq: 1000 });
    await sim.hangup(call);
    await events.waitFor(isEvent('StasisEnd', leg.snoop.id));
    expect(events.events.filter((e) => chId(e) === call).map((e) => e.type)).toEqual(['StasisStart', 'StasisEnd']);
    await ari.request('DELETE', `/channels/${leg.em.id}`);
    await ari.request('DELETE', `/bridges/${leg.bridge.id}`);
    rx.close();
  });

  it('ConfBridge: listed as a base softmix bridge, refuses addChannel with 409, snoops on participants work', async () => {
    await sim.joinConfBridge('conf9', { exten: 'tone440' });
    const p2 = await sim.joinConfBridge('conf9', { exten: 'tone700' });
    const list = await ari.request<BridgeJson[]>('GET', '/bridges');
    const conf = list.body.find((b) => b.name === 'conf9')!;
    expect(conf).toMatchObject({ technology: 'softmix', bridge_type: 'mixing', bridge_class: 'base', creator: 'ConfBridge', video_mode: 'none' });
    expect(conf.channels).toHaveLength(2);
    const em = await ari.request<ChannelJson>('POST', '/channels/externalMedia', { app: 'recorder', external_host: '127.0.0.1:9', format: 'slin16' });
    const r = await ari.request('POST', `/bridges/${conf.id}/addChannel`, { channel: em.body.id });
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ message: 'Bridge not in Stasis application' });
    const snoop = await ari.request<ChannelJson>('POST', `/channels/${p2}/snoop`, { spy: 'both', app: 'recorder' });
    expect(snoop.status).toBe(200);
    await events.waitFor(isEvent('StasisStart', snoop.body.id));
    await sim.leaveConfBridge(p2);
    await events.waitFor(isEvent('StasisEnd', snoop.body.id));
    expect(events.events.some((e) => chId(e) === p2)).toBe(false);
    await ari.request('DELETE', `/channels/${em.body.id}`);
  });

  it('short440 hangs up by itself after 3 s of tone; DTMF and playback events', async () => {
    const call = await sim.placeCall({ exten: 'short440', audioDelayMs: 0 });
    sim.sendDtmf(call, '1');
    const d = await events.waitFor(isEvent('ChannelDtmfReceived', call));
    expect(d).toMatchObject({ digit: '1', duration_ms: 100 });
    const pb = await ari.request<{ id: string; state: string }>('POST', `/channels/${call}/play`, { media: 'tone:1000' });
    expect(pb.status).toBe(201);
    expect(pb.body.state).toBe('queued');
    await events.waitFor((e) => e.type === 'PlaybackStarted');
    await events.waitFor(isEvent('ChannelDestroyed', call), 4500);
    const fin = events.events.find((e) => e.type === 'PlaybackFinished' && (e.playback as { id: string }).id === pb.body.id);
    expect(fin).toBeDefined();
  });

  it('unanswered call enters Stasis ringing; /answer brings it Up', async () => {
    const call = await sim.placeCall({ exten: 'tone440', answer: false });
    const s = await events.waitFor(isEvent('StasisStart', call));
    expect((s.channel as ChannelJson).state).toBe('Ring');
    await ari.request('POST', `/channels/${call}/answer`);
    const up = await events.waitFor((e) => e.type === 'ChannelStateChange' && chId(e) === call && (e.channel as ChannelJson).state === 'Up');
    expect(up).toBeDefined();
    await sim.hangup(call);
  });
});

describe('errors, auth, WebSocket and Asterisk going away', () => {
  it('401 with WWW-Authenticate; api_key works', async () => {
    const r = await fetch(`${sim.url}/ari/channels`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="Asterisk REST Interface"');
    expect(await r.json()).toEqual({ message: 'Authentication required' });
    const bad = await new AriTestClient(sim.url, 'asterisk', 'wrong').request('GET', '/channels');
    expect(bad.status).toBe(401);
    expect((await fetch(`${sim.url}/ari/asterisk/info?api_key=asterisk:asterisk`)).status).toBe(200);
  });

  it('WebSocket: 401 for a bad key, 400 HTML without app, several apps on one socket', async () => {
    const status = (url: string) =>
      new Promise<{ status: number; body: string }>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on('open', () => {
          ws.close();
          resolve({ status: 101, body: '' });
        });
        ws.on('error', () => undefined);
      });
    const base = sim.url.replace('http', 'ws');
    expect(await status(`${base}/ari/events?app=recorder&api_key=asterisk:nope`)).toEqual({ status: 401, body: '{"message":"Authentication required"}' });
    const noApp = await status(`${base}/ari/events?api_key=asterisk:asterisk`);
    expect(noApp.status).toBe(400);
    expect(noApp.body).toContain('HTTP request is missing param: [app]');
    const multi = await ari.events('app2,app3');
    const apps = await ari.request<{ name: string }[]>('GET', '/applications');
    expect(apps.body.map((a) => a.name).sort()).toEqual(['app2', 'app3', 'recorder']);
    multi.close();
  });

  it('failNext makes the next snoop fail as configured', async () => {
    const call = await sim.placeCall({ exten: 'tone440' });
    sim.failNext('channels.snoopChannel', 500, { message: 'Snoop channel could not be created' });
    const r = await ari.request('POST', `/channels/${call}/snoop`, { spy: 'in', app: 'recorder' });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ message: 'Snoop channel could not be created' });
    expect((await ari.request('POST', `/channels/${call}/snoop`, { spy: 'in', app: 'recorder' })).status).toBe(200);
    expect(sim.requestLog.slice(-2).map((e) => e.status)).toEqual([500, 200]);
    await ari.request('DELETE', `/channels/${call}`);
  });

  it('WebSocket drop and reconnect; Asterisk down refuses connections and loses its channels', async () => {
    const other = await ari.events('recorder');
    expect(sim.webSocketCount()).toBeGreaterThanOrEqual(2);
    sim.stopWebSocket();
    await vi.waitFor(() => expect([other.closed, events.closed]).toEqual([true, true]), { timeout: 3000, interval: 10 });
    events = await ari.events('recorder');
    const call = await sim.placeCall({ exten: 'tone440' });
    await events.waitFor(isEvent('StasisStart', call));
    await sim.goDown();
    await expect(fetch(`${sim.url}/ari/asterisk/info`)).rejects.toThrow();
    await sim.comeUp();
    const list = await ari.request<ChannelJson[]>('GET', '/channels');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([]);
    events = await ari.events('recorder');
    expect(sim.webSocketCount()).toBe(1);
  });
});
