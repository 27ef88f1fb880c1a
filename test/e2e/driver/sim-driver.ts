/** CallDriver backed by the in-process ARI simulator. */
import { type AriSimulator, type SimulatorOptions, indicationTone, startAriSimulator } from '../../sim/index.js';
import { AriTestClient } from '../../sim/harness.js';
import type { BridgeJson, ChannelJson } from '../../sim/types.js';
import { placeDialplanCallWith } from './dialplan-call.js';
import { runFlowWith } from './flow.js';
import type { CallDriver, Conference, DialplanCall, DriverPlaceCallOptions, FlowOptions, FlowRun, FlowScenario, Leftovers, PlacedCall } from './types.js';

export async function createSimDriver(options: SimulatorOptions = {}): Promise<CallDriver> {
  const sim = await startAriSimulator(options);
  return new SimDriver(sim);
}

class SimDriver implements CallDriver {
  readonly kind = 'sim' as const;
  readonly ariUrl: string;
  readonly ariUser: string;
  readonly ariPassword: string;
  readonly app: string;
  private readonly ari: AriTestClient;
  private readonly ownBridges = new Set<string>();

  constructor(readonly simulator: AriSimulator) {
    this.ariUrl = simulator.url;
    this.ariUser = simulator.username;
    this.ariPassword = simulator.password;
    this.app = simulator.app;
    this.ari = new AriTestClient(simulator.url, simulator.username, simulator.password);
  }

  async placeCall(opts: DriverPlaceCallOptions = {}): Promise<PlacedCall> {
    const exten = opts.exten ?? (opts.inTone ? `tone${opts.inTone}` : 'silence');
    const channelId = await this.simulator.placeCall({
      exten,
      // Both sides are Playtones() on Asterisk: its 8 kHz indications generator (tones above 4 kHz fold back).
      ...(opts.exten ? {} : { inSignal: opts.inTone ? indicationTone(opts.inTone) : null }),
      outSignal: opts.outTone ? indicationTone(opts.outTone) : null,
      answer: opts.answer ?? true,
      ...(opts.customerId ? { variables: { CUSTOMER_ID: opts.customerId } } : {}),
    });
    return { channelId, name: this.simulator.getChannel(channelId)?.name ?? '' };
  }

  async hangup(channelId: string): Promise<void> {
    await this.simulator.hangup(channelId);
  }

  async sendDtmf(channelId: string, digit: string): Promise<void> {
    for (const d of digit) this.simulator.sendDtmf(channelId, d);
  }

  runFlow(scenario: FlowScenario, opts?: FlowOptions): Promise<FlowRun> {
    return runFlowWith((m, p, q) => this.ari.request(m, p, q), (id, digits) => this.sendDtmf(id, digits), scenario, opts);
  }

  async placeDialplanCall(opts: { callerTone?: number; calleeTone: number }): Promise<DialplanCall> {
    const call = await placeDialplanCallWith((m, p, q) => this.ari.request(m, p, q), opts);
    return call;
  }

  async startConference(opts: { name: string; kind?: 'confbridge' | 'ari' }): Promise<Conference> {
    const kind = opts.kind ?? 'confbridge';
    if (kind === 'confbridge') return { kind, name: opts.name, bridgeId: this.simulator.createConfBridge(opts.name) };
    const res = await this.ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing', name: opts.name });
    if (res.status !== 200) throw new Error(`create bridge: ${res.status} ${res.text}`);
    this.ownBridges.add(res.body.id);
    return { kind, name: opts.name, bridgeId: res.body.id };
  }

  async joinConference(conf: Conference, opts: { tone: number }): Promise<PlacedCall> {
    if (conf.kind === 'confbridge') {
      const channelId = await this.simulator.joinConfBridge(conf.name, { exten: `tone${opts.tone}` });
      return { channelId, name: this.simulator.getChannel(channelId)?.name ?? '' };
    }
    const call = await this.placeCall({ inTone: opts.tone });
    const res = await this.ari.request('POST', `/bridges/${conf.bridgeId}/addChannel`, { channel: call.channelId });
    if (res.status !== 204) throw new Error(`addChannel: ${res.status} ${res.text}`);
    return call;
  }

  async leaveConference(channelId: string): Promise<void> {
    await this.simulator.hangup(channelId);
  }

  async conferenceBridgeId(conf: Conference): Promise<string> {
    if (conf.bridgeId) return conf.bridgeId;
    const b = this.simulator.listBridges().find((x) => x.name === conf.name);
    if (!b) throw new Error(`no bridge for conference ${conf.name}`);
    return b.id;
  }

  async listLeftovers(): Promise<Leftovers> {
    return leftovers(this.simulator.listChannels(), this.simulator.listBridges(), this.ownBridges);
  }

  async close(): Promise<void> {
    await this.simulator.close();
  }
}

export function leftovers(channels: ChannelJson[], bridges: BridgeJson[], own: ReadonlySet<string>): Leftovers {
  return {
    channels: channels.filter((c) => c.name.startsWith('Snoop/') || c.name.startsWith('UnicastRTP/')),
    bridges: bridges.filter((b) => b.bridge_class === 'stasis' && !own.has(b.id)),
  };
}
