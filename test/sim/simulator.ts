/**
 * startAriSimulator(): an in-process Asterisk 22 ARI (REST + events WebSocket + RTP over real UDP) and the
 * control API tests use to play the other side of the product (place calls, hang up, press keys, break the
 * network, restart Asterisk…).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAsteriskConfig } from './config-parser.js';
import type { ExtensionBehaviour } from './dialplan.js';
import { includeLoader, loadDialplanFile, parseExtensionsConf } from './dialplan-interpreter.js';
import { type EngineConfig, type LocalCallOptions, AsteriskEngine } from './engine.js';
import type { LoggedEvent } from './events.js';
import type { Impairments } from './impairments.js';
import type { OperationId } from './params.js';
import type { RtpSourceStats } from './rtp-source.js';
import { AriHttpServer, type Failure, type RequestLogEntry } from './server.js';
import type { SignalSpec } from './signals.js';
import type { AriEvent, BridgeJson, ChannelJson } from './types.js';

export interface SimulatorOptions {
  username?: string;
  password?: string;
  /** default Stasis app of placeCall() (default `recorder`) */
  app?: string;
  /** 0 (default): a free port */
  port?: number;
  host?: string;
  asteriskId?: string;
  /** asterisk.conf `systemname`: channel ids become `<name>-<epoch>.<n>` (unique across a fleet), info config.name */
  systemName?: string;
  /** zeros before the dialplan audio starts, after answer (default 500 ms, as measured) */
  audioDelayMs?: number;
  snoopStasisDelayMs?: number;
  snoopTeardownDelayMs?: number;
  ariHangupSnoopDelayMs?: number;
  externalMediaStasisDelayMs?: number;
  impairments?: Impairments;
  /**
   * `stasis` (default, as Asterisk 22): `POST /applications/{app}/subscription?eventSource=bridge:{id}` finds only
   * bridges made through ARI; a dialplan ConfBridge answers 422 "Event source does not exist".
   * `all` is NOT what Asterisk does: it exists to exercise code downstream of such a subscription.
   */
  subscribableBridges?: 'stasis' | 'all';
  /** extra `exten@context` behaviours */
  extensions?: Record<string, ExtensionBehaviour>;
  /**
   * The dialplan whose other contexts (e.g. [flow-examples]) the simulator interprets for an originate with
   * `context`/`extension`: default asterisk-config/extensions.conf; a path, or the text itself via `dialplanText`.
   */
  dialplanFile?: string;
  dialplanText?: string;
  /** ari.conf `channelvars`: default, what asterisk-config/ari.conf lists */
  channelvars?: string[];
}

/** asterisk-config/extensions.conf of this repository */
export const DEFAULT_DIALPLAN_FILE = fileURLToPath(new URL('../../asterisk-config/extensions.conf', import.meta.url));

export interface PlaceCallOptions {
  /** default `test` */
  context?: string;
  /** default `tone440` */
  exten?: string;
  /** what the call's channel receives (snoop `in`); default from the extension */
  inSignal?: SignalSpec | null;
  /** what is sent to the call's channel (snoop `out`); default silence */
  outSignal?: SignalSpec | null;
  /** default true; false: the channel enters Stasis ringing and the app must POST /answer */
  answer?: boolean;
  app?: string;
  appArgs?: string[];
  audioDelayMs?: number;
  channelId?: string;
  /** channel variables of the call (originate `variables`), e.g. { CUSTOMER_ID: 'cust-b' } */
  variables?: Record<string, string>;
}

export interface RaceSettings {
  /** > 0: externalMedia's 200 comes back before its StasisStart, which follows this many ms later */
  externalMediaStasisDelayMs?: number;
  /** share of externalMedia requests that lose the race (default 1 when a delay is set; real: 2 of 5) */
  externalMediaRaceProbability?: number;
  snoopStasisDelayMs?: number;
}

export interface AriSimulator {
  /** http://127.0.0.1:PORT (without /ari) */
  readonly url: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly app: string;
  /** every REST request with its status, in order */
  readonly requestLog: RequestLogEntry[];
  /** every event delivered to an app (with `application`), in order */
  readonly events: LoggedEvent[];
  placeCall(opts?: PlaceCallOptions): Promise<string>;
  enterStasisFromDialplan(target: string | PlaceCallOptions, args?: string[], app?: string): Promise<string>;
  hangup(channelId: string): Promise<void>;
  sendDtmf(channelId: string, digit: string, durationMs?: number): void;
  playTone(channelId: string, direction: 'in' | 'out', signal: SignalSpec | null): void;
  answer(channelId: string): void;
  createConfBridge(name: string): string;
  joinConfBridge(name: string, call?: PlaceCallOptions): Promise<string>;
  leaveConfBridge(channelId: string): Promise<void>;
  listChannels(): ChannelJson[];
  listBridges(): BridgeJson[];
  getChannel(channelId: string): ChannelJson | undefined;
  channelVariables(channelId: string): Record<string, string> | undefined;
  setImpairments(impairments: Impairments | null, channelId?: string): void;
  failNext(operation: OperationId, status: number, body?: unknown, times?: number): void;
  /** The next request(s) of that operation are done (and answered) only after `delayMs`, as an overloaded Asterisk
   * does: the objects are still created when the client has long given up. */
  delayNext(operation: OperationId, delayMs: number, times?: number): void;
  /** The order in which DELETE /bridges ejects the members: as they joined (default) or the reverse. */
  setBridgeEjectOrder(order: 'joined' | 'reverse'): void;
  setRace(race: RaceSettings): void;
  rtpStats(externalMediaChannelId: string): RtpSourceStats | undefined;
  waitForEvent(predicate: (e: AriEvent) => boolean, timeoutMs?: number): Promise<AriEvent>;
  webSocketCount(): number;
  stopWebSocket(): void;
  goDown(): Promise<void>;
  comeUp(): Promise<void>;
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startAriSimulator(options: SimulatorOptions = {}): Promise<AriSimulator> {
  const cfg: EngineConfig = {
    asteriskId: options.asteriskId ?? '02:fc:00:00:00:01',
    systemName: options.systemName ?? '',
    snoopStasisDelayMs: options.snoopStasisDelayMs ?? 2,
    externalMediaStasisDelayMs: options.externalMediaStasisDelayMs ?? 0,
    snoopTeardownDelayMs: options.snoopTeardownDelayMs ?? 6,
    ariHangupSnoopDelayMs: options.ariHangupSnoopDelayMs ?? 16,
    audioDelayMs: options.audioDelayMs ?? 500,
    extensions: new Map(Object.entries(options.extensions ?? {})),
    subscribableBridges: options.subscribableBridges ?? 'stasis',
    // A dialplan Asterisk would refuse is refused here too (AsteriskConfigError), not half-read.
    channelvars: options.channelvars ?? shippedChannelvars(),
    dialplan: options.dialplanText !== undefined
        ? parseExtensionsConf(options.dialplanText, 'extensions.conf', includeLoader(dirname(DEFAULT_DIALPLAN_FILE)))
        : loadDialplanFile(options.dialplanFile ?? DEFAULT_DIALPLAN_FILE).plan,
  };
  const engine = new AsteriskEngine(cfg);
  Object.assign(engine.globalImpairments, options.impairments ?? {});
  const failures = new Map<OperationId, Failure[]>();
  const delays = new Map<OperationId, number[]>();
  let raceProbability = 1;
  const requestLog: RequestLogEntry[] = [];
  const username = options.username ?? 'asterisk';
  const password = options.password ?? 'asterisk';
  const app = options.app ?? 'recorder';
  const host = options.host ?? '127.0.0.1';

  const server = new AriHttpServer({
    engine,
    username,
    password,
    requestLog,
    takeFailure: (op) => {
      const list = failures.get(op);
      const f = list?.shift();
      if (list && list.length === 0) failures.delete(op);
      return f;
    },
    takeDelay: (op) => {
      const list = delays.get(op);
      const d = list?.shift() ?? 0;
      if (list && list.length === 0) delays.delete(op);
      return d;
    },
    externalMediaRace: () => {
      const d = cfg.externalMediaStasisDelayMs;
      return d > 0 && Math.random() < raceProbability ? d : 0;
    },
  });
  const port = await server.listen(options.port ?? 0, host);
  let up = true;

  const need = (id: string) => {
    const ch = engine.channel(id);
    if (!ch) throw new Error(`ARI simulator: no channel ${id}`);
    return ch;
  };

  const callOptions = (o: PlaceCallOptions, withApp: string | undefined): LocalCallOptions => ({
    context: o.context ?? 'test',
    exten: o.exten ?? 'tone440',
    app: withApp,
    appArgs: o.appArgs,
    inSignal: o.inSignal,
    outSignal: o.outSignal,
    answer: o.answer,
    audioDelayMs: o.audioDelayMs,
    channelId: o.channelId,
    variables: o.variables,
  });

  const sim: AriSimulator = {
    url: `http://${host}:${port}`,
    port,
    username,
    password,
    app,
    requestLog,
    events: engine.bus.log,

    async placeCall(o = {}) {
      const target = o.app ?? app;
      if (!engine.bus.isRegistered(target)) {
        throw new Error(`ARI simulator: no WebSocket is connected for app '${target}' (Asterisk would hang the call up)`);
      }
      const { ch1, run } = engine.originateLocal(callOptions(o, target));
      run();
      return ch1.id;
    },

    async enterStasisFromDialplan(target, args = [], stasisApp = app) {
      let ch;
      if (typeof target === 'string') {
        ch = need(target);
      } else {
        const created = engine.originateLocal(callOptions(target, undefined));
        created.run();
        ch = created.ch1;
      }
      if (ch.stasis) throw new Error(`ARI simulator: channel ${ch.id} is already in Stasis`);
      const wasSubscribed = ch.apps.has(stasisApp);
      if (!engine.enterStasis(ch, stasisApp, args, wasSubscribed)) {
        throw new Error(`ARI simulator: no WebSocket is connected for app '${stasisApp}'`);
      }
      return ch.id;
    },

    async hangup(channelId) {
      const ch = need(channelId);
      if (ch.kind === 'local1') engine.hangupCall(ch, 'far');
      else engine.hangupAny(ch, 'far');
    },

    sendDtmf(channelId, digit, durationMs = 100) {
      engine.dtmf(need(channelId), digit, durationMs);
    },

    playTone(channelId, direction, signal) {
      const ch = need(channelId);
      engine.endLayers(ch, direction);
      engine.addLayer(ch, direction, signal, engine.nowMs(), Infinity);
    },

    answer(channelId) {
      engine.answer(need(channelId));
    },

    createConfBridge(name) {
      return engine.createConfBridge(name).id;
    },

    async joinConfBridge(name, call = {}) {
      const { ch1, run } = engine.originateLocal(callOptions(call, undefined));
      run();
      ch1.dialplan = { context: 'conf', exten: name, priority: 1, app_name: 'ConfBridge', app_data: name };
      engine.joinBridge(engine.createConfBridge(name), ch1);
      return ch1.id;
    },

    async leaveConfBridge(channelId) {
      await sim.hangup(channelId);
    },

    listChannels: () => [...engine.channels.values()].filter((c) => c.alive).map((c) => c.toJson()),
    listBridges: () => [...engine.bridges.values()].map((b) => b.toJson()),
    getChannel: (id) => engine.channel(id)?.toJson(),
    channelVariables: (id) => {
      const ch = engine.channel(id);
      return ch ? Object.fromEntries(ch.vars) : undefined;
    },

    setImpairments(impairments, channelId) {
      if (channelId === undefined) {
        for (const k of Object.keys(engine.globalImpairments)) delete (engine.globalImpairments as Record<string, unknown>)[k];
        Object.assign(engine.globalImpairments, impairments ?? {});
      } else if (impairments === null) {
        engine.impairmentsByChannel.delete(channelId);
      } else {
        engine.impairmentsByChannel.set(channelId, impairments);
      }
    },

    failNext(operation, status, body, times = 1) {
      const list = failures.get(operation) ?? [];
      for (let i = 0; i < times; i++) list.push({ status, body: body ?? { message: defaultMessage(status) } });
      failures.set(operation, list);
    },

    delayNext(operation, delayMs, times = 1) {
      const list = delays.get(operation) ?? [];
      for (let i = 0; i < times; i++) list.push(delayMs);
      delays.set(operation, list);
    },

    setBridgeEjectOrder(order) {
      engine.bridgeEjectOrder = order;
    },

    setRace(race) {
      if (race.externalMediaStasisDelayMs !== undefined) cfg.externalMediaStasisDelayMs = race.externalMediaStasisDelayMs;
      if (race.externalMediaRaceProbability !== undefined) raceProbability = race.externalMediaRaceProbability;
      if (race.snoopStasisDelayMs !== undefined) cfg.snoopStasisDelayMs = race.snoopStasisDelayMs;
    },

    rtpStats(id) {
      return engine.channels.get(id)?.em?.source?.stats;
    },

    waitForEvent(predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error('ARI simulator: timed out waiting for an event'));
        }, timeoutMs);
        const off = engine.bus.subscribe((e) => {
          if (predicate(e.event)) {
            clearTimeout(timer);
            off();
            resolve(e.event);
          }
        });
      });
    },

    webSocketCount: () => server.webSocketCount,

    stopWebSocket() {
      server.dropWebSockets();
    },

    async goDown() {
      if (!up) return;
      up = false;
      await server.close();
      engine.reset();
    },

    async comeUp() {
      if (up) return;
      await server.listen(port, host);
      up = true;
    },

    async restart(downMs = 0) {
      await sim.goDown();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await sim.comeUp();
    },

    async close() {
      up = false;
      await server.close();
      engine.close();
    },
  };
  return sim;
}

/** `channelvars` of asterisk-config/ari.conf (comma separated, as res_ari's config reads it). */
function shippedChannelvars(): string[] {
  const file = join(dirname(DEFAULT_DIALPLAN_FILE), 'ari.conf');
  const general = parseAsteriskConfig(readFileSync(file, 'utf8'), 'ari.conf').categories.find((c) => c.name === 'general');
  const value = general?.variables.filter((v) => v.name === 'channelvars').at(-1)?.value ?? '';
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

function defaultMessage(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 404:
      return 'Channel not found';
    case 409:
      return 'Conflict';
    case 422:
      return 'Channel not in Stasis application';
    case 500:
      return 'An internal error prevented this request from being handled';
    default:
      return 'Error';
  }
}
