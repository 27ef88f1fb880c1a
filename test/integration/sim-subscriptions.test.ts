/**
 * Application subscriptions (res/ari/resource_applications.c, res/stasis/app.c) and the dialplan interpreter
 * running asterisk-config's [flow-examples] (Stasis() waits for /continue, Read() takes keys, Hangup()).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type AriSimulator, startAriSimulator } from '../sim/index.js';
import { AriTestClient, type EventCollector, startSimSession, stopSimSession, chId, isEvent, sleep } from '../sim/harness.js';
import type { AriEvent, ApplicationJson, BridgeJson, ChannelJson } from '../sim/types.js';

let sim: AriSimulator;
let ari: AriTestClient;
let events: EventCollector;
/** Polls until the assertion holds (a loaded machine runs the dialplan's timers late). */
const eventually = (assertion: () => Promise<void> | void) => vi.waitFor(assertion, { timeout: 5000, interval: 25 });
const gone = (id: string) => eventually(async () => expect((await ari.request('GET', `/channels/${id}`)).status).toBe(404));

beforeAll(async () => {
  ({ sim, ari, events } = await startSimSession({ audioDelayMs: 50 }));
});
afterAll(() => stopSimSession({ sim, events }));

const sub = (source: string, app = 'recorder') => ari.request<ApplicationJson & { message?: string }>('POST', `/applications/${app}/subscription`, { eventSource: source });
const unsub = (source: string, app = 'recorder') => ari.request<ApplicationJson & { message?: string }>('DELETE', `/applications/${app}/subscription`, { eventSource: source });
const flow = (exten: string) =>
  ari.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/tone300@test', context: 'flow-examples', extension: exten, priority: '1' });

describe('POST/DELETE /applications/{app}/subscription', () => {
  it('answers errors as Asterisk 22 does', async () => {
    const none = await ari.request('POST', '/applications/recorder/subscription');
    expect(none).toMatchObject({ status: 400, body: { message: 'Missing parameter eventSource' } });
    expect(await sub('bridge:x', 'nosuchapp')).toMatchObject({ status: 404, body: { message: 'Application not found' } });
    expect(await sub('bogus:1')).toMatchObject({ status: 400, body: { message: 'Invalid event source URI scheme' } });
    expect(await sub('bridge:no-such-bridge')).toMatchObject({ status: 422, body: { message: 'Event source does not exist' } });
    expect(await sub('channel:no-such-channel')).toMatchObject({ status: 422, body: { message: 'Event source does not exist' } });
    expect(await unsub('channel:no-such-channel')).toMatchObject({ status: 422, body: { message: 'Event source was not subscribed to' } });
  });

  it('a dialplan ConfBridge is not a subscribable event source (stasis_app_bridge_find_by_id: ARI bridges only)', async () => {
    const conf = sim.createConfBridge('subconf');
    await sim.joinConfBridge('subconf', { exten: 'tone440' });
    const r = await sub(`bridge:${conf}`);
    expect(r).toMatchObject({ status: 422, body: { message: 'Event source does not exist' } });
  });

  it('bridge subscription: 200 with the Application (bridge_ids), events of the bridge, DELETE ends them', async () => {
    const bridge = await ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing' });
    const r = await sub(`bridge:${bridge.body.id}`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['name', 'channel_ids', 'bridge_ids', 'endpoint_ids', 'device_names', 'events_allowed', 'events_disallowed']);
    expect(r.body.bridge_ids).toContain(bridge.body.id);
    const d = await unsub(`bridge:${bridge.body.id}`);
    expect(d.status).toBe(200);
    expect(d.body.bridge_ids).not.toContain(bridge.body.id);
    expect(await unsub(`bridge:${bridge.body.id}`)).toMatchObject({ status: 422, body: { message: 'Event source was not subscribed to' } });
    await ari.request('DELETE', `/bridges/${bridge.body.id}`);
  });

  it('a subscribeAll WebSocket gets the ConfBridge joins, leaves and its end', async () => {
    const url = `${sim.url.replace(/^http/, 'ws')}/ari/events?app=watcher&subscribeAll=true&api_key=${sim.username}:${sim.password}`;
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(url);
    const got: AriEvent[] = [];
    ws.on('message', (m) => got.push(JSON.parse(String(m)) as AriEvent));
    await new Promise((r) => ws.once('open', r));
    const p = await sim.joinConfBridge('allconf', { exten: 'tone700' });
    await sim.leaveConfBridge(p);
    await eventually(() =>
      expect(got.filter((e) => e.application === 'watcher').map((e) => e.type)).toEqual(expect.arrayContaining(['ChannelEnteredBridge', 'ChannelLeftBridge', 'BridgeDestroyed'])),
    );
    // the plain app saw none of it
    expect(events.events.some((e) => e.type === 'ChannelEnteredBridge' && chId(e) === p)).toBe(false);
    ws.close();
  });
});

describe('dialplan interpreter: [flow-examples]', () => {
  it('Stasis(recorder,recording_start,format=wav): StasisStart with args and nothing before; stays until /continue', async () => {
    const from = events.events.length;
    const ch = await flow('record_all');
    expect(ch.status).toBe(200);
    const id = ch.body.id;
    const start = await events.waitFor(isEvent('StasisStart', id));
    expect(start.args).toEqual(['recording_start', 'format=wav']);
    expect((start.channel as ChannelJson).dialplan).toMatchObject({ context: 'flow-examples', exten: 'record_all', priority: 2, app_name: 'Stasis', app_data: 'recorder,recording_start,format=wav' });
    expect(events.events.slice(from).filter((e) => chId(e) === id)[0].type).toBe('StasisStart');
    await sleep(300); // the app does not answer: the channel stays in Stasis
    expect((await ari.request<ChannelJson>('GET', `/channels/${id}`)).body.dialplan.app_name).toBe('Stasis');

    expect((await ari.request('POST', `/channels/${id}/continue`)).status).toBe(204);
    await events.waitFor(isEvent('StasisEnd', id));
    const n = events.events.length;
    await eventually(async () => expect((await ari.request<ChannelJson>('GET', `/channels/${id}`)).body.dialplan).toMatchObject({ app_name: 'Dial', app_data: 'Local/tone440@test,,gS(2)' }));
    // not ours any more: its hangup is not reported…
    await gone(id);
    expect(events.events.slice(n).filter((e) => chId(e) === id)).toEqual([]);
  });

  it('after /continue, a channel: subscription brings the channel’s events (DTMF, dialplan, hangup) until DELETE', async () => {
    const id = (await flow('pause_resume')).body.id;
    await events.waitFor(isEvent('StasisStart', id));
    await ari.request('POST', `/channels/${id}/continue`);
    const r = await sub(`channel:${id}`);
    expect(r.status).toBe(200);
    expect(r.body.channel_ids).toContain(id);
    const stop = await events.waitFor((e) => e.type === 'StasisStart' && chId(e) === id && (e.args as string[])[0] === 'recording_stop', 4000);
    // the conversation before it, Dial(…,gS(2)), ended with the called party: the channel left Dial's bridge
    expect(events.events.some((e) => e.type === 'ChannelLeftBridge' && chId(e) === id)).toBe(true);
    await ari.request('POST', `/channels/${id}/continue`);
    // Read(CARD…) takes the keys of the caller's phone (TESTDTMF_<n> → SendDTMF on ;2)
    await events.waitFor((e) => e.type === 'ChannelDialplan' && chId(e) === id && e.dialplan_app === 'Read');
    const hex = (stop.channel as ChannelJson).name.slice(-10, -2);
    await ari.request('POST', '/asterisk/variable', { variable: `TESTDTMF_${hex}`, value: '42#' });
    const dtmf = await events.waitFor(isEvent('ChannelDtmfReceived', id), 2000);
    expect(dtmf.digit).toBe('4');
    const varset = await events.waitFor((e) => e.type === 'ChannelVarset' && chId(e) === id && e.variable === 'CARD');
    expect(varset.value).toBe('42');
    await events.waitFor((e) => e.type === 'StasisStart' && chId(e) === id && (e.args as string[])[0] === 'recording_start' && e !== stop);
    expect(await unsub(`channel:${id}`)).toMatchObject({ status: 200 });
    const last = events.events.length;
    await ari.request('POST', `/channels/${id}/continue`);
    await events.waitFor((e) => e.type === 'StasisEnd' && chId(e) === id && events.events.indexOf(e) >= last);
    const n = events.events.length;
    await gone(id);
    expect(events.events.slice(n).filter((e) => chId(e) === id)).toEqual([]);
  });

  it('consent: Read() with 1 → Stasis; with 2 → no Stasis, the call goes on and hangs up', async () => {
    for (const [digit, expected] of [['1', true], ['2', false]] as const) {
      const { body } = await flow('consent');
      await eventually(async () => expect((await ari.request<ChannelJson>('GET', `/channels/${body.id}`)).body.dialplan.app_name).toBe('Read'));
      sim.sendDtmf(body.id, digit);
      if (expected) {
        await events.waitFor(isEvent('StasisStart', body.id));
        await ari.request('POST', `/channels/${body.id}/continue`);
      } else {
        // On to the conversation, never through Stasis.
        await eventually(async () => expect((await ari.request<ChannelJson>('GET', `/channels/${body.id}`)).body.dialplan.app_name).toBe('Dial'));
      }
      await gone(body.id);
      expect(events.events.some(isEvent('StasisStart', body.id))).toBe(expected);
    }
  });

  it('Stasis() of an app with no WebSocket: STASISSTATUS=FAILED and the dialplan goes on', async () => {
    const s2 = await startAriSimulator({ audioDelayMs: 0, dialplanText: '#include extensions_ari_recorder_test.conf\n[f]\nexten => s,1,Stasis(nobody,recording_start)\n same => n,Wait(5)\n' });
    const c2 = new AriTestClient(s2.url, s2.username, s2.password);
    const ch = await c2.request<ChannelJson>('POST', '/channels', { endpoint: 'Local/silence@test', context: 'f', extension: 's', priority: '1' });
    await eventually(() => expect(s2.channelVariables(ch.body.id)?.STASISSTATUS).toBe('FAILED'));
    expect(s2.getChannel(ch.body.id)?.dialplan.app_name).toBe('Wait');
    await s2.close();
  });
});
