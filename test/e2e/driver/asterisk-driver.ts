/**
 * CallDriver for a real Asterisk (ARI_URL, ARI_USER, ARI_PASSWORD, ARI_APP), using asterisk-config's `test`
 * context: `Local/tone<f>@test` answers and Playtones(<f>) on the ;2 side (what ;1 receives), `tone:<f>`
 * played by ARI toward ;1 gives the other direction, `testconf/<name>` runs ConfBridge(<name>). DTMF: the
 * ;2 dialplan polls the global variable TESTDTMF_<8-hex Local counter> and plays it with SendDTMF(), so ;1
 * receives it (ChannelDtmfReceived). Its own small fetch client; no events WebSocket (the app is the product's).
 */
import { leftovers } from './sim-driver.js';
import { AriTestClient, type AriResponse } from '../../sim/harness.js';
import type { BridgeJson, ChannelJson } from '../../sim/types.js';
import { runFlowWith } from './flow.js';
import type { CallDriver, Conference, DriverPlaceCallOptions, FlowOptions, FlowRun, FlowScenario, Leftovers, PlacedCall } from './types.js';

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
    if (opts.answer === false) throw new Error('answer:false is only available with the simulator');
    const exten = opts.exten ?? (opts.inTone ? `tone${opts.inTone}` : 'silence');
    const vars = opts.customerId ? { variables: { CUSTOMER_ID: opts.customerId } } : undefined;
    const r = await this.req<ChannelJson>('POST', '/channels', { endpoint: `Local/${exten}@test`, app: this.app }, vars);
    if (r.status !== 200) throw new Error(`originate: ${r.status} ${r.text}`);
    this.ownChannels.add(r.body.id);
    if (opts.outTone) {
      // 409 until the channel has entered Stasis
      await this.until(() => this.req('POST', `/channels/${r.body.id}/play`, { media: `tone:${opts.outTone}` }), [201], [404, 409, 412]);
    }
    return { channelId: r.body.id, name: r.body.name };
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

  async startConference(opts: { name: string; kind?: 'confbridge' | 'ari' }): Promise<Conference> {
    const kind = opts.kind ?? 'confbridge';
    if (!/^[a-zA-Z0-9]{2,}$/.test(opts.name)) throw new Error('conference names are letters and digits (≥ 2), see extensions.conf [testconf]');
    if (kind === 'confbridge') return { kind, name: opts.name };
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

  async listLeftovers(): Promise<Leftovers> {
    const bridges = await this.req<BridgeJson[]>('GET', '/bridges');
    return leftovers(await this.channels(), bridges.body, this.ownBridges);
  }

  async close(): Promise<void> {
    for (const id of this.ownChannels) await this.req('DELETE', `/channels/${id}`);
    for (const id of this.ownBridges) await this.req('DELETE', `/bridges/${id}`);
    this.ownChannels.clear();
    this.ownBridges.clear();
  }
}

export function createAsteriskDriver(cfg: AsteriskDriverConfig = asteriskConfigFromEnv()): CallDriver {
  return new AsteriskDriver(cfg);
}
