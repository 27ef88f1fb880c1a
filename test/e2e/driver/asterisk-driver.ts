/**
 * CallDriver for a real Asterisk (ARI_URL, ARI_USER, ARI_PASSWORD, ARI_APP), using asterisk-config's `test`
 * context: `Local/tone<f>@test` answers and Playtones(<f>) on the ;2 side (what ;1 receives, the snoop's `in`).
 * The other direction (`outTone`, the snoop's `out`) is a second party: a second `Local/tone<out>@test` whose ;1
 * enters Stasis (no args: the product leaves it alone) and shares a mixing bridge the driver creates with the
 * call's ;1, so the recorded channel hears the other party through a real bridge. Not an ARI `tone:` playback on
 * the recorded channel: a channel that runs a generator itself delivers no received audio to a `spy=in` snoop
 * while it runs (seen on Asterisk 22.10.1: the `in` tone measured −135 dB).
 * `answer:false` is `Local/ring@test`: its ;2 half, an incoming call that never answers, runs Stasis(<app>) in
 * state Ring, and is the call returned. `testconf/<name>` runs ConfBridge(<name>). DTMF: the ;2 dialplan polls the
 * global variable TESTDTMF_<8-hex Local counter> and plays it with SendDTMF(), so ;1 receives it
 * (ChannelDtmfReceived). No events WebSocket (the app is the product's).
 */
import { randomUUID } from 'node:crypto';
import { leftovers } from './sim-driver.js';
import { AriTestClient, type AriResponse } from '../../sim/harness.js';
import type { BridgeJson, ChannelJson } from '../../sim/types.js';
import { placeDialplanCallWith } from './dialplan-call.js';
import { runFlowWith } from './flow.js';
import type { CallDriver, Conference, DialplanCall, DriverPlaceCallOptions, FlowOptions, FlowRun, FlowScenario, Leftovers, PlacedCall } from './types.js';

export interface AsteriskDriverConfig {
  url: string;
  user: string;
  password: string;
  app: string;
}

export function asteriskConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AsteriskDriverConfig {
  if (!env.ARI_URL) throw new Error('ARI_URL is not set');
  return {
    url: env.ARI_URL.replace(/\/+$/, '').replace(/\/ari$/, ''),
    user: env.ARI_USER ?? 'asterisk',
    password: env.ARI_PASSWORD ?? 'asterisk',
    app: env.ARI_APP ?? 'recorder',
  };
}

type Res<T> = AriResponse<T>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class AsteriskDriver implements CallDriver {
  readonly kind = 'asterisk' as const;
  readonly ariUrl: string;
  readonly ariUser: string;
  readonly ariPassword: string;
  readonly app: string;
  private readonly ownChannels = new Set<string>();
  /** call ;1 → the other party's ;1 and the bridge they share (outTone) */
  private readonly parties = new Map<string, { peerId: string; bridgeId: string }>();
  private readonly ownBridges = new Set<string>();
  private readonly client: AriTestClient;

  constructor(cfg: AsteriskDriverConfig) {
    this.ariUrl = cfg.url;
    this.ariUser = cfg.user;
    this.ariPassword = cfg.password;
    this.app = cfg.app;
    this.client = new AriTestClient(cfg.url, cfg.user, cfg.password);
  }

  private req<T = unknown>(method: string, path: string, query: Record<string, string> = {}, json?: unknown): Promise<Res<T>> {
    return this.client.request<T>(method, path, query, json);
  }

  /** Retries while Asterisk answers one of `retryOn` (e.g. 409/422 until the channel is in Stasis). */
  private async until<T>(f: () => Promise<Res<T>>, ok: number[], retryOn: number[], timeoutMs = 5000): Promise<Res<T>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await f();
      if (ok.includes(r.status)) return r;
      if (!retryOn.includes(r.status) || Date.now() > end) throw new Error(`ARI ${r.status}: ${r.text}`);
      await sleep(50);
    }
  }

  async placeCall(opts: DriverPlaceCallOptions = {}): Promise<PlacedCall> {
    const variables: Record<string, string> = opts.customerId ? { CUSTOMER_ID: opts.customerId } : {};
    if (opts.answer === false) return this.placeRingingCall(variables);
    const exten = opts.exten ?? (opts.inTone ? `tone${opts.inTone}` : 'silence');
    const call = await this.originate(exten, variables);
    // As on the simulator, the call is placed once it is answered and in the app (the originate answers before).
    await this.inStasis(call.id, 'Up');
    if (opts.outTone) {
      // The other party: its ;2 says outTone, its ;1 is bridged with the call's ;1.
      const peer = await this.originate(`tone${opts.outTone}`, {});
      const b = await this.req<BridgeJson>('POST', '/bridges', { type: 'mixing', name: `party-${call.id}` });
      if (b.status !== 200) throw new Error(`create bridge: ${b.status} ${b.text}`);
      this.ownBridges.add(b.body.id);
      this.parties.set(call.id, { peerId: peer.id, bridgeId: b.body.id });
      // 422 until the channel has entered Stasis
      for (const id of [call.id, peer.id]) {
        await this.until(() => this.req('POST', `/bridges/${b.body.id}/addChannel`, { channel: id }), [204], [409, 422]);
      }
    }
    return { channelId: call.id, name: call.name };
  }

  /** POST /channels?endpoint=Local/<exten>@test&app=<app>: ;1 enters Stasis(<app>) once ;2 answered. */
  private async originate(exten: string, variables: Record<string, string>): Promise<ChannelJson> {
    const body = Object.keys(variables).length ? { variables } : undefined;
    const r = await this.req<ChannelJson>('POST', '/channels', { endpoint: `Local/${exten}@test`, app: this.app }, body);
    if (r.status !== 200) throw new Error(`originate ${exten}: ${r.status} ${r.text}`);
    this.ownChannels.add(r.body.id);
    return r.body;
  }

  /**
   * A call that rings in our app without being answered: Local/ring@test's ;2 half (the incoming side) runs
   * Stasis(${TESTAPP}) while still ringing; the originated ;1 waits for an answer that never comes. ;1's variables
   * are copied to ;2 (core_unreal.c), so TESTAPP and CUSTOMER_ID reach it.
   */
  private async placeRingingCall(variables: Record<string, string>): Promise<PlacedCall> {
    // core_unreal.c honours otherChannelId only together with channelId
    const uuid = randomUUID();
    const ringId = `ring-${uuid}`;
    const r = await this.req<ChannelJson>(
      'POST',
      '/channels',
      { endpoint: 'Local/ring@test', context: 'test', extension: 'silence', priority: '1', channelId: `caller-${uuid}`, otherChannelId: ringId, timeout: '120' },
      { variables: { ...variables, TESTAPP: this.app } },
    );
    if (r.status !== 200) throw new Error(`originate ring: ${r.status} ${r.text}`);
    this.ownChannels.add(ringId);
    this.ownChannels.add(r.body.id);
    const ch2 = await this.inStasis(ringId, 'Ring');
    return { channelId: ringId, name: ch2.name };
  }

  /** Waits until the channel runs the Stasis application in `state` (GET /channels/{id} shows both). */
  private async inStasis(id: string, state: string, timeoutMs = 5000): Promise<ChannelJson> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const g = await this.req<ChannelJson>('GET', `/channels/${id}`);
      if (g.status === 200 && g.body.dialplan?.app_name === 'Stasis' && g.body.state === state) return g.body;
      if (Date.now() > end) throw new Error(`channel ${id} not in Stasis (${state}): ${g.status} ${g.text}`);
      await sleep(20);
    }
  }

  private async channels(): Promise<ChannelJson[]> {
    const r = await this.req<ChannelJson[]>('GET', '/channels');
    if (r.status !== 200) throw new Error(`list channels: ${r.status} ${r.text}`);
    return r.body;
  }

  async hangup(channelId: string): Promise<void> {
    const all = await this.channels();
    const ch1 = all.find((c) => c.id === channelId);
    const ch2 = ch1?.name.endsWith(';1') ? all.find((c) => c.name === `${ch1.name.slice(0, -1)}2`) : undefined;
    // hanging up the ;2 half is the far end going away
    const r = await this.req('DELETE', `/channels/${ch2?.id ?? channelId}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`hangup: ${r.status} ${r.text}`);
    await this.dropParty(channelId);
  }

  /** The other party of an outTone call goes too, with the bridge the driver made for them. */
  private async dropParty(channelId: string): Promise<void> {
    const party = this.parties.get(channelId);
    if (!party) return;
    this.parties.delete(channelId);
    await this.req('DELETE', `/channels/${party.peerId}`);
    await this.req('DELETE', `/bridges/${party.bridgeId}`);
    this.ownBridges.delete(party.bridgeId);
  }

  async sendDtmf(channelId: string, digit: string): Promise<void> {
    const ch = (await this.channels()).find((c) => c.id === channelId);
    if (!ch || !/;[12]$/.test(ch.name)) throw new Error(`sendDtmf: ${channelId} is not a Local test call`);
    const key = `TESTDTMF_${ch.name.slice(-10, -2)}`;
    const r = await this.req('POST', '/asterisk/variable', { variable: key, value: digit });
    if (r.status !== 204) throw new Error(`set ${key}: ${r.status} ${r.text}`);
  }

  async runFlow(scenario: FlowScenario, opts?: FlowOptions): Promise<FlowRun> {
    const run = await runFlowWith((m, p, q) => this.req(m, p, q), (id, digits) => this.sendDtmf(id, digits), scenario, opts);
    this.ownChannels.add(run.channelId);
    return run;
  }

  async placeDialplanCall(opts: { callerTone?: number; calleeTone: number }): Promise<DialplanCall> {
    const call = await placeDialplanCallWith((m, p, q) => this.req(m, p, q), opts);
    this.ownChannels.add(call.channelId);
    return call;
  }

  async startConference(opts: { name: string; kind?: 'confbridge' | 'ari' }): Promise<Conference> {
    const kind = opts.kind ?? 'confbridge';
    if (kind === 'confbridge') return { kind, name: confBridgeName(opts.name) };
    const r = await this.req<BridgeJson>('POST', '/bridges', { type: 'mixing', name: opts.name });
    if (r.status !== 200) throw new Error(`create bridge: ${r.status} ${r.text}`);
    this.ownBridges.add(r.body.id);
    return { kind, name: opts.name, bridgeId: r.body.id };
  }

  async joinConference(conf: Conference, opts: { tone: number }): Promise<PlacedCall> {
    if (conf.kind === 'confbridge') {
      const r = await this.req<ChannelJson>('POST', '/channels', { endpoint: `Local/tone${opts.tone}@test`, context: 'testconf', extension: conf.name, priority: '1' });
      if (r.status !== 200) throw new Error(`originate participant: ${r.status} ${r.text}`);
      this.ownChannels.add(r.body.id);
      return { channelId: r.body.id, name: r.body.name };
    }
    const call = await this.placeCall({ inTone: opts.tone });
    await this.until(() => this.req('POST', `/bridges/${conf.bridgeId}/addChannel`, { channel: call.channelId }), [204], [422]);
    return call;
  }

  async leaveConference(channelId: string): Promise<void> {
    const r = await this.req('DELETE', `/channels/${channelId}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`leave: ${r.status} ${r.text}`);
    await this.dropParty(channelId);
  }

  async conferenceBridgeId(conf: Conference): Promise<string> {
    if (conf.bridgeId) return conf.bridgeId;
    const end = Date.now() + 5000;
    for (;;) {
      const r = await this.req<BridgeJson[]>('GET', '/bridges');
      const b = r.body.find((x) => x.creator === 'ConfBridge' && x.name === conf.name);
      if (b) return (conf.bridgeId = b.id);
      if (Date.now() > end) throw new Error(`no ConfBridge named ${conf.name}`);
      await sleep(50);
    }
  }

  /**
   * Leftovers of this app only: the Asterisk may be shared (another Stasis app, e.g. bench/asterisk-cost.ts's
   * `costbench`, has its own bridges and snoops). A channel in another app's Stasis (dialplan app_data) is not ours,
   * nor a bridge whose every member is such a channel; an empty bridge is counted (nothing tells whose it was).
   */
  async listLeftovers(): Promise<Leftovers> {
    const channels = await this.channels();
    const bridges = await this.req<BridgeJson[]>('GET', '/bridges');
    if (bridges.status !== 200) throw new Error(`list bridges: ${bridges.status} ${bridges.text}`);
    const foreign = new Set(
      channels.filter((c) => c.dialplan?.app_name === 'Stasis' && c.dialplan.app_data.split(',')[0] !== this.app).map((c) => c.id),
    );
    const left = leftovers(channels, bridges.body, this.ownBridges);
    return {
      channels: left.channels.filter((c) => !foreign.has(c.id)),
      bridges: left.bridges.filter((b) => b.channels.length === 0 || !b.channels.every((id) => foreign.has(id))),
    };
  }

  async close(): Promise<void> {
    for (const id of this.ownChannels) await this.req('DELETE', `/channels/${id}`);
    for (const id of this.ownBridges) await this.req('DELETE', `/bridges/${id}`);
    this.ownChannels.clear();
    this.ownBridges.clear();
    this.parties.clear();
  }
}

/**
 * [testconf] takes letters and digits (a dialplan extension): any other character becomes `x` + its hex code (and
 * `x` itself is escaped), so distinct names stay distinct: `conf-ari-1` → `confx2darix2d1`.
 */
export function confBridgeName(name: string): string {
  const safe = [...name].map((c) => (/^[a-wyzA-WYZ0-9]$/.test(c) ? c : `x${c.codePointAt(0)!.toString(16)}`)).join('');
  return safe.length >= 2 ? safe : `${safe}x00`;
}

export function createAsteriskDriver(cfg: AsteriskDriverConfig = asteriskConfigFromEnv()): CallDriver {
  return new AsteriskDriver(cfg);
}
