/**
 * The simulated Asterisk core: channels, bridges, Stasis, and the event choreography captured on a real
 * Asterisk 22.10.1 (see ../shared/asterisk/traces). REST routes and the test control API both drive it.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { MEDIA_FORMATS, type MediaFormat } from './codec.js';
import { type ExtensionBehaviour, lookupExtension, mediaToSignal } from './dialplan.js';
import { type Cep, type Dialplan, type DialplanHost, findSteps, runDialplan } from './dialplan-interpreter.js';
import { AriError } from './errors.js';
import { EventBus, ev } from './events.js';
import { type Impairments, makeRng, randomSeed, randomUint32 } from './impairments.js';
import { IdGenerator, SimBridge, SimChannel, SimPlayback, type SpyDirection, defaultDialplan, localDialplan } from './model.js';
import { RtpSource } from './rtp-source.js';
import { MediaScheduler } from './scheduler.js';
import { type AudioLayer, type SignalSpec, renderLayers, toSignalFn } from './signals.js';
import type { AriEvent } from './types.js';

export interface EngineConfig {
  asteriskId: string;
  /** asterisk.conf `systemname` ('' unset): GET /asterisk/info config.name, and the prefix of every channel id */
  systemName: string;
  /** snoop's StasisStart comes this long after the 200 (real: 1–3 ms) */
  snoopStasisDelayMs: number;
  /** 0: externalMedia's events precede its 200; > 0: the 200 comes first and StasisStart this much later (race) */
  externalMediaStasisDelayMs: number;
  /** far-end hangup: the snoops leave this long after the call's StasisEnd (real ≈ 6 ms) */
  snoopTeardownDelayMs: number;
  /** ARI hangup of the call: the snoops leave this long after (real ≈ 16 ms) */
  ariHangupSnoopDelayMs: number;
  /** after answer, the dialplan starts playing this much later (real: ≈ 500 ms of zeros in the snoop) */
  audioDelayMs: number;
  /**
   * `stasis` (Asterisk 22): `bridge:` subscriptions find only ARI-made bridges, a ConfBridge is 422.
   * `all`: NOT Asterisk's behaviour — lets a test exercise what a product would do with ConfBridge events.
   */
  subscribableBridges: 'stasis' | 'all';
  /** extra exten@context behaviours on top of the `test` context */
  extensions: ReadonlyMap<string, ExtensionBehaviour>;
  /** asterisk-config/extensions.conf, parsed: contexts other than the hard-wired test ones run in the interpreter */
  dialplan: Dialplan;
  /** ari.conf `channelvars` (names in every channel snapshot) */
  channelvars: readonly string[];
}

export interface LocalCallOptions {
  context: string;
  exten: string;
  /** Stasis app (ARI originate with app=…); without it the channel stays in the dialplan, unseen */
  app?: string;
  appArgs?: string[];
  channelId?: string;
  otherChannelId?: string;
  /** override what ;1 receives / what is sent to ;1 (defaults come from the extension) */
  inSignal?: SignalSpec | null;
  outSignal?: SignalSpec | null;
  answer?: boolean;
  audioDelayMs?: number;
  /** originate `variables` (set on ;1, e.g. CUSTOMER_ID) */
  variables?: Record<string, string>;
}

type CallInitiator = 'ari' | 'far' | 'dialplan';

const CAUSE_NORMAL = 16;
const CAUSE_ARI = 32;

export class AsteriskEngine {
  readonly channels = new Map<string, SimChannel>();
  readonly bridges = new Map<string, SimBridge>();
  readonly playbacks = new Map<string, SimPlayback>();
  readonly ids: IdGenerator;
  readonly bus: EventBus;
  /** the order in which DELETE /bridges ejects the members (Asterisk's own; tests try both) */
  bridgeEjectOrder: 'joined' | 'reverse' = 'joined';
  readonly scheduler = new MediaScheduler();
  readonly globalImpairments: Impairments = {};
  /** per call channel id (the spied/recorded channel) or per externalMedia channel id */
  readonly impairmentsByChannel = new Map<string, Impairments>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly t0 = performance.now();
  private layerCounter = 0;
  /** dialplan global variables (POST /asterisk/variable) */
  readonly globals = new Map<string, string>();
  readonly startupTime = new Date();

  constructor(readonly cfg: EngineConfig) {
    this.ids = new IdGenerator(cfg.systemName);
    this.bus = new EventBus(cfg.asteriskId, () => this.nowMs());
  }

  nowMs(): number {
    return performance.now() - this.t0;
  }

  /** Runs `fn` after `ms` unless the engine is reset first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private emit(targets: Iterable<string>, e: AriEvent): void {
    this.bus.emit(targets, e);
  }

  private emitCh(ch: SimChannel, e: AriEvent): void {
    this.bus.emit(this.chTargets(ch), e);
  }

  /** Apps that get a channel's events: its Stasis/originate app(s) and explicit `channel:` subscribers. */
  chTargets(ch: SimChannel): string[] {
    return ch.subs.size === 0 ? [...ch.apps] : [...ch.apps, ...ch.subs.keys()];
  }

  /** Apps that get a bridge's events: apps of Stasis channels that entered it and explicit `bridge:` subscribers. */
  bridgeTargets(b: SimBridge): string[] {
    return b.subs.size === 0 ? [...b.apps] : [...b.apps, ...b.subs.keys()];
  }

  // ---------------------------------------------------------------- lookups

  channel(id: string): SimChannel | undefined {
    const ch = this.channels.get(id);
    return ch && ch.alive ? ch : undefined;
  }

  requireChannel(id: string): SimChannel {
    const ch = this.channel(id);
    if (!ch) throw new AriError(404, 'Not Found', 'Channel not found');
    return ch;
  }

  requireStasisChannel(id: string): SimChannel {
    const ch = this.requireChannel(id);
    // res/ari/resource_channels.c find_control()
    if (!ch.stasis) throw new AriError(409, 'Conflict', 'Channel not in Stasis application');
    return ch;
  }

  // ---------------------------------------------------------------- Local calls

  /** Creates a Local/<exten>@<context> pair. Returns ;1 and a function that plays the events (call it after the 200). */
  originateLocal(opts: LocalCallOptions): { ch1: SimChannel; run: () => void } {
    const id1 = opts.channelId ?? this.ids.channelId();
    const id2 = opts.otherChannelId ?? this.ids.channelId();
    if (this.channels.has(id1) || this.channels.has(id2)) {
      throw new AriError(409, 'Conflict', 'Channel with given unique ID already exists');
    }
    const base = `Local/${opts.exten}@${opts.context}-${this.ids.localSuffix()}`;
    const created = new Date();
    const ch1 = new SimChannel(id1, `${base};1`, 'local1', 'Down', localDialplan(opts.context, opts.exten), created);
    const ch2 = new SimChannel(id2, `${base};2`, 'local2', 'Ring', { context: opts.context, exten: opts.exten, priority: 1, app_name: 'Answer', app_data: '' }, created);
    ch1.ariVarNames = ch2.ariVarNames = this.cfg.channelvars;
    for (const [k, v] of Object.entries(opts.variables ?? {})) ch1.vars.set(k, v);
    ch1.partnerId = id2;
    ch2.partnerId = id1;
    for (const ch of [ch1, ch2]) {
      ch.exten = opts.exten;
      ch.context = opts.context;
      this.channels.set(ch.id, ch);
      if (opts.app) ch.apps.add(opts.app);
    }
    const run = (): void => this.runLocalCall(ch1, ch2, opts);
    return { ch1, run };
  }

  private runLocalCall(ch1: SimChannel, ch2: SimChannel, opts: LocalCallOptions): void {
    // Only what the dialplan file really defines exists (a pattern that cannot match is a missing extension).
    const defined = this.cfg.extensions.has(`${opts.exten}@${opts.context}`) || findSteps(this.cfg.dialplan, opts.context, opts.exten) !== undefined;
    const beh = defined ? lookupExtension(opts.context, opts.exten, this.cfg.extensions) : null;
    if (!beh) {
      // originate to a nonexistent extension: both halves are destroyed with cause 0
      this.later(1, () => {
        for (const ch of [ch2, ch1]) {
          this.emitCh(ch, ev.destroyed(ch, 0, 'Unknown'));
          this.removeChannel(ch);
        }
      });
      return;
    }
    const dialstring = `${opts.exten}@${opts.context}`;
    this.emitCh(ch1, ev.dial(ch1, '', dialstring));
    this.emitCh(ch2, ev.channelDialplan(ch2));
    const answer = opts.answer ?? true;
    if (answer) {
      ch2.state = 'Up';
      this.emitCh(ch2, ev.stateChange(ch2));
      ch1.state = 'Up';
      this.emitCh(ch1, ev.stateChange(ch1));
      this.emitCh(ch1, ev.dial(ch1, 'ANSWER', dialstring));
    } else {
      ch1.state = 'Ring';
    }
    const inSignal = opts.inSignal !== undefined ? opts.inSignal : beh.inSignal;
    const outSignal = opts.outSignal !== undefined ? opts.outSignal : (beh.outSignal ?? null);
    const start = (): void => this.startDialplanAudio(ch1, ch2, beh, inSignal, outSignal, opts.audioDelayMs ?? this.cfg.audioDelayMs);
    if (answer) start();
    else ch1.pendingAnswer = start;
    if (opts.app) this.enterStasis(ch1, opts.app, opts.appArgs ?? [], true);
  }

  private startDialplanAudio(
    ch1: SimChannel,
    ch2: SimChannel,
    beh: ExtensionBehaviour,
    inSignal: SignalSpec | null,
    outSignal: SignalSpec | null,
    delayMs: number,
  ): void {
    const t = this.nowMs() + delayMs;
    ch1.audioStartMs = t;
    this.addLayer(ch1, 'in', inSignal, t, t + Math.min(beh.hangupAfterMs ?? Infinity, beh.audioForMs ?? Infinity));
    this.addLayer(ch1, 'out', outSignal, t, Infinity);
    this.later(delayMs, () => {
      if (!ch2.alive) return;
      ch2.dialplan = { ...ch2.dialplan, priority: 2, app_name: 'Playback', app_data: beh.playbackData };
      ch2.playing = true;
      this.emitCh(ch2, ev.channelDialplan(ch2));
      if (beh.hangupAfterMs !== undefined) {
        this.later(beh.hangupAfterMs, () => {
          if (!ch2.alive) return;
          ch2.playing = false;
          this.emitCh(ch2, ev.varset(ch2, 'PLAYBACKSTATUS', 'SUCCESS'));
          ch2.dialplan = { ...ch2.dialplan, priority: 3, app_name: 'Hangup', app_data: '' };
          this.emitCh(ch2, ev.channelDialplan(ch2));
          this.hangupCall(ch1, 'far');
        });
      }
    });
  }

  addLayer(ch: SimChannel, direction: 'in' | 'out', signal: SignalSpec | null | undefined, startMs: number, endMs: number): string | null {
    const fn = toSignalFn(signal);
    if (!fn) return null;
    const layer: AudioLayer = { id: `L${this.layerCounter++}`, fn, startMs, endMs };
    (direction === 'in' ? ch.inLayers : ch.outLayers).push(layer);
    return layer.id;
  }

  /** Ends the layers of one direction now (or one layer by id). */
  endLayers(ch: SimChannel, direction: 'in' | 'out', layerId?: string): void {
    const now = this.nowMs();
    const layers = direction === 'in' ? ch.inLayers : ch.outLayers;
    for (const l of layers) if (!layerId || l.id === layerId) l.endMs = Math.min(l.endMs, now);
    const kept = layers.filter((l) => l.endMs > now);
    if (direction === 'in') ch.inLayers = kept;
    else ch.outLayers = kept;
  }

  /** A channel enters Stasis(app, args). Returns false when the app is not connected (Asterisk then hangs the channel up). */
  enterStasis(ch: SimChannel, app: string, args: string[], varset: boolean): boolean {
    if (!this.bus.isRegistered(app)) {
      // "Stasis app '<app>' doesn't exist": the channel is hung up
      this.later(0, () => this.hangupAny(ch, 'ari', true));
      return false;
    }
    ch.apps.add(app);
    ch.stasis = { app, args };
    ch.dialplan = { ...ch.dialplan, app_name: 'Stasis', app_data: [app, ...args].join(',') };
    if (varset) {
      ch.vars.set('STASISSTATUS', '');
      this.emitCh(ch, ev.varset(ch, 'STASISSTATUS', ''));
    }
    this.emitCh(ch, ev.stasisStart(ch, args));
    return true;
  }

  /** POST /channels/{id}/continue: StasisEnd, and the app no longer hears about the channel (unless subscribed). */
  continueInDialplan(ch: SimChannel, target: { context?: string; extension?: string; priority?: number } = {}): void {
    const app = ch.stasis?.app;
    this.emitCh(ch, ev.stasisEnd(ch));
    ch.stasis = null;
    if (app) ch.apps.delete(app);
    const resume = ch.onContinue;
    ch.onContinue = null;
    if (resume) resume(target);
    else ch.dialplan = { ...ch.dialplan, priority: ch.dialplan.priority + 1, app_name: '', app_data: '' };
  }

  // ---------------------------------------------------------------- dialplan interpreter

  /** Runs asterisk-config's dialplan on a channel from `cep` (the ;1 half of an originate with context/extension). */
  runDialplan(ch: SimChannel, cep: Cep): void {
    void runDialplan(this.cfg.dialplan, this.dialplanHost(ch), cep).catch(() => this.hangupAny(ch, 'ari'));
  }

  private dialplanHost(ch: SimChannel): DialplanHost {
    /** resolves with `value` when the channel goes away first */
    const untilGone = <T>(value: T, start: (done: (v: T) => void) => void): Promise<T> =>
      new Promise<T>((resolve) => {
        let settled = false;
        const done = (v: T): void => {
          if (settled) return;
          settled = true;
          ch.onGone.delete(gone);
          resolve(v);
        };
        const gone = (): void => done(value);
        if (!ch.alive || ch.hangingUp) return resolve(value);
        ch.onGone.add(gone);
        start(done);
      });
    return {
      alive: () => ch.alive && !ch.hangingUp,
      enter: (cep, app, data) => {
        ch.dialplan = { context: cep.context, exten: cep.exten, priority: cep.priority, app_name: app, app_data: data };
        this.emitCh(ch, ev.channelDialplan(ch));
      },
      getVar: (name) => ch.vars.get(name) ?? this.globals.get(name),
      setVar: (name, value) => {
        ch.vars.set(name, value);
        this.emitCh(ch, ev.varset(ch, name, value));
      },
      answer: () => this.answer(ch),
      playtones: (arg) => {
        if (ch.playtonesLayer) this.endLayers(ch, 'out', ch.playtonesLayer);
        ch.playtonesLayer = this.addLayer(ch, 'out', mediaToSignal(`tone:${arg}`).signal, this.nowMs(), Infinity);
      },
      stopPlaytones: () => {
        if (ch.playtonesLayer) this.endLayers(ch, 'out', ch.playtonesLayer);
        ch.playtonesLayer = null;
      },
      wait: (ms) => untilGone(undefined, (done) => this.later(ms, () => done(undefined))),
      readDigits: (maxDigits, timeoutMs) =>
        untilGone('', (done) => {
          let digits = '';
          let timer: NodeJS.Timeout | null = null;
          const finish = (): void => {
            if (timer) clearTimeout(timer);
            ch.dtmfSink = null;
            done(digits);
          };
          const arm = (): void => {
            if (timer) clearTimeout(timer);
            timer = setTimeout(finish, timeoutMs);
          };
          ch.dtmfSink = (d) => {
            if (d === '#') return finish();
            digits += d;
            if (digits.length >= maxDigits) finish();
            else arm();
          };
          ch.onGone.add(() => {
            if (timer) clearTimeout(timer);
          });
          arm();
        }),
      stasis: (app, args) =>
        untilGone<{ status: 'SUCCESS' | 'FAILED'; goto?: Partial<Cep> }>({ status: 'SUCCESS' }, (done) => {
          // apps/app_stasis.c: an app that is not registered → STASISSTATUS=FAILED and the dialplan goes on
          if (!this.bus.isRegistered(app)) return done({ status: 'FAILED' });
          ch.onContinue = (t) => done({ status: 'SUCCESS', goto: { context: t.context, exten: t.extension, priority: t.priority } });
          this.enterStasis(ch, app, args, false);
        }),
      dial: (target, o) => this.dial(ch, target, o),
      hangup: () => this.hangupAny(ch, 'dialplan'),
    };
  }

  /**
   * Dial() from `caller`'s dialplan to `Local/<exten>@<context>` (what asterisk-config's examples dial): a Local pair
   * whose ;2 runs the extension; once it answers, the caller and the pair's ;1 share a basic bridge (what each
   * reads is written to the other, so a snoop on the caller hears the called party as its `out`). The bridge ends
   * when either side leaves; S(<s>) hangs the called party up <s> s after the answer (app_dial.c: whentohangup).
   */
  private dial(caller: SimChannel, target: string, o: { timeoutMs?: number; limitMs?: number }): Promise<{ status: 'ANSWER' | 'NOANSWER' | 'CHANUNAVAIL' | 'CANCEL' }> {
    type Status = 'ANSWER' | 'NOANSWER' | 'CHANUNAVAIL' | 'CANCEL';
    return new Promise((resolve) => {
      const m = /^Local\/([^@/]+)@([^/]+?)(?:\/n)?$/.exec(target);
      const beh = m && findSteps(this.cfg.dialplan, m[2], m[1]) ? lookupExtension(m[2], m[1], this.cfg.extensions) : null;
      if (!caller.alive || caller.hangingUp) return resolve({ status: 'CANCEL' });
      // chan_local: "No such extension/context" → the dial fails at once
      if (!m || !beh) return resolve({ status: 'CHANUNAVAIL' });
      const { ch1: peer, run } = this.originateLocal({ context: m[2], exten: m[1] });
      run();
      const bridge = new SimBridge(this.ids.bridgeId(), 'mixing', 'basic', '', '', 'none', 'simple_bridge');
      this.bridges.set(bridge.id, bridge);
      this.joinBridge(bridge, caller);
      this.joinBridge(bridge, peer);
      let settled = false;
      const end = (status: Status): void => {
        if (settled) return;
        settled = true;
        caller.onGone.delete(callerGone);
        peer.onGone.delete(peerGone);
        if (this.bridges.has(bridge.id)) this.destroyBridge(bridge);
        resolve({ status });
      };
      const callerGone = (): void => {
        end('CANCEL');
        this.hangupAny(peer, 'dialplan');
      };
      const peerGone = (): void => end('ANSWER');
      caller.onGone.add(callerGone);
      peer.onGone.add(peerGone);
      if (o.limitMs !== undefined) this.later(o.limitMs, () => this.hangupAny(peer, 'dialplan'));
    });
  }

  answer(ch: SimChannel): void {
    if (ch.state !== 'Up') {
      ch.state = 'Up';
      this.emitCh(ch, ev.stateChange(ch));
    }
    const pending = ch.pendingAnswer;
    ch.pendingAnswer = null;
    pending?.();
  }

  // ---------------------------------------------------------------- hangups

  /** Hangs up any channel the way Asterisk does for its kind. `silent`: no events (app missing, Asterisk down). */
  hangupAny(ch: SimChannel, initiator: CallInitiator, silent = false): void {
    if (!ch.alive) return;
    if (silent) ch.apps.clear();
    switch (ch.kind) {
      case 'local1':
        this.hangupCall(ch, initiator);
        return;
      case 'local2': {
        const ch1 = ch.partnerId ? this.channel(ch.partnerId) : undefined;
        if (ch1) {
          if (silent) ch1.apps.clear();
          this.hangupCall(ch1, 'far', initiator === 'ari' ? CAUSE_ARI : CAUSE_NORMAL);
        } else {
          this.emitCh(ch, ev.hangupRequest(ch, CAUSE_ARI, true));
          this.emitCh(ch, ev.destroyed(ch, CAUSE_NORMAL, 'Normal Clearing'));
          this.removeChannel(ch);
        }
        return;
      }
      case 'snoop':
      case 'externalMedia':
        this.hangupMediaChannel(ch);
        return;
    }
  }

  /**
   * Hangup of a call's ;1 channel.
   * far: the dialplan side hung up (traces/hangup-during-recording); ari: DELETE /channels/{id} (traces/ari-hangup-during-recording).
   */
  hangupCall(ch1: SimChannel, initiator: CallInitiator, ch2Cause = CAUSE_NORMAL): void {
    if (!ch1.alive || ch1.hangingUp) return;
    ch1.hangingUp = true;
    const ch2 = ch1.partnerId ? this.channel(ch1.partnerId) : undefined;
    const endCh2 = (): void => {
      if (!ch2) return;
      ch2.dialplan = { ...ch2.dialplan, app_name: '', app_data: '' };
      this.emitCh(ch2, ev.destroyed(ch2, CAUSE_NORMAL, 'Normal Clearing'));
      this.removeChannel(ch2);
    };
    for (const f of [...ch1.onGone]) f();
    if (initiator === 'far') {
      if (ch2) this.emitCh(ch2, ev.hangupRequest(ch2, ch2Cause, true));
      this.emitCh(ch1, ev.hangupRequest(ch1, CAUSE_NORMAL, false));
      endCh2();
      this.leaveCallStasis(ch1);
    } else if (initiator === 'dialplan') {
      // Hangup() in ;1's own dialplan: ;1 first, then its Local partner
      this.emitCh(ch1, ev.hangupRequest(ch1, CAUSE_NORMAL, false));
      this.leaveCallStasis(ch1);
      if (ch2) {
        this.emitCh(ch2, ev.hangupRequest(ch2, CAUSE_NORMAL, true));
        endCh2();
      }
    } else {
      this.emitCh(ch1, ev.hangupRequest(ch1, CAUSE_ARI, true));
      this.leaveCallStasis(ch1);
      if (ch2) {
        this.emitCh(ch2, ev.hangupRequest(ch2, CAUSE_NORMAL, false));
        if (ch2.playing) this.emitCh(ch2, ev.varset(ch2, 'PLAYBACKSTATUS', 'SUCCESS'));
        this.emitCh(ch2, ev.hangupRequest(ch2, CAUSE_NORMAL, true));
        endCh2();
      }
    }
    const delay = initiator === 'ari' ? this.cfg.ariHangupSnoopDelayMs : this.cfg.snoopTeardownDelayMs;
    this.later(delay, () => {
      for (const sid of [...ch1.snoopIds]) {
        const snoop = this.channel(sid);
        if (snoop) this.snoopTargetGone(snoop);
      }
      ch1.dialplan = localDialplan(ch1.context, ch1.exten);
      this.emitCh(ch1, ev.destroyed(ch1, CAUSE_NORMAL, 'Normal Clearing'));
      this.removeChannel(ch1);
    });
  }

  private leaveCallStasis(ch1: SimChannel): void {
    this.finishPlaybacks(ch1);
    if (ch1.bridgeId) this.leaveBridge(ch1);
    if (ch1.stasis) {
      this.emitCh(ch1, ev.stasisEnd(ch1));
      ch1.stasis = null;
      ch1.vars.set('STASISSTATUS', 'SUCCESS');
      this.emitCh(ch1, ev.varset(ch1, 'STASISSTATUS', 'SUCCESS'));
    }
    ch1.inLayers = [];
    ch1.outLayers = [];
  }

  /** The spied channel went away: the snoop leaves its bridge and Stasis; never a ChannelDestroyed. */
  private snoopTargetGone(snoop: SimChannel): void {
    if (snoop.bridgeId) this.leaveBridge(snoop);
    if (snoop.stasis) {
      this.emitCh(snoop, ev.stasisEnd(snoop));
      snoop.stasis = null;
    }
    this.removeChannel(snoop);
  }

  /** DELETE of a snoop or externalMedia channel. */
  private hangupMediaChannel(ch: SimChannel): void {
    this.emitCh(ch, ev.hangupRequest(ch, CAUSE_ARI, true));
    this.finishPlaybacks(ch);
    if (ch.bridgeId) this.leaveBridge(ch);
    if (ch.stasis) {
      this.emitCh(ch, ev.stasisEnd(ch));
      ch.stasis = null;
    }
    if (ch.kind === 'externalMedia') {
      ch.vars.set('STASISSTATUS', 'SUCCESS');
      this.emitCh(ch, ev.varset(ch, 'STASISSTATUS', 'SUCCESS'));
      ch.dialplan = defaultDialplan('AppDial2', '(Outgoing Line)');
      this.emitCh(ch, ev.destroyed(ch, CAUSE_NORMAL, 'Normal Clearing'));
    }
    this.removeChannel(ch);
  }

  removeChannel(ch: SimChannel): void {
    if (!ch.alive) return;
    ch.alive = false;
    for (const f of [...ch.onGone]) f();
    ch.onGone.clear();
    ch.dtmfSink = null;
    ch.onContinue = null;
    if (ch.bridgeId) {
      const b = this.bridges.get(ch.bridgeId);
      if (b) {
        const i = b.channels.indexOf(ch.id);
        if (i >= 0) b.channels.splice(i, 1);
      }
      ch.bridgeId = null;
    }
    if (ch.snoop) this.channels.get(ch.snoop.spiedId)?.snoopIds.delete(ch.id);
    if (ch.em) {
      ch.em.source?.stop();
      ch.em.source = null;
      try {
        ch.em.socket.close();
      } catch {
        // already closed
      }
    }
    for (const pid of ch.playbacks) this.playbacks.delete(pid);
    this.channels.delete(ch.id);
    this.updateMedia();
  }

  // ---------------------------------------------------------------- snoop & externalMedia

  createSnoop(spied: SimChannel, o: { spy: SpyDirection; whisper: SpyDirection; app: string; appArgs: string[]; snoopId?: string }): SimChannel {
    const id = o.snoopId ?? this.ids.channelId();
    if (this.channels.has(id)) throw new AriError(500, 'Internal error', 'Snoop channel could not be created');
    const ch = new SimChannel(id, `Snoop/${spied.id}-${this.ids.snoopSuffix()}`, 'snoop', 'Up', defaultDialplan('', ''));
    ch.ariVarNames = this.cfg.channelvars;
    ch.snoop = { spiedId: spied.id, spy: o.spy, whisper: o.whisper };
    spied.snoopIds.add(id);
    this.channels.set(id, ch);
    this.later(this.cfg.snoopStasisDelayMs, () => {
      if (ch.alive) this.enterStasis(ch, o.app, o.appArgs, false);
    });
    return ch;
  }

  async createExternalMedia(o: {
    app: string;
    externalHost: string;
    host: string;
    port: number;
    formatName: string;
    channelId?: string;
    data?: string;
    variables: Record<string, string>;
  }): Promise<{ ch: SimChannel; run: () => void }> {
    const id = o.channelId ?? this.ids.channelId();
    if (this.channels.has(id)) {
      throw new AriError(500, 'Internal Server Error', 'An internal error prevented this request from being handled');
    }
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => undefined);
    const bindAddress = isLoopback(o.host) ? '127.0.0.1' : '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, address: bindAddress }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const format: MediaFormat | null = (MEDIA_FORMATS as Record<string, MediaFormat | undefined>)[o.formatName] ?? null;
    const seed = randomSeed();
    const rng = makeRng(seed);
    const ch = new SimChannel(id, `UnicastRTP/${o.externalHost}-${this.ids.pointer()}`, 'externalMedia', 'Down', defaultDialplan('AppDial2', '(Outgoing Line)'));
    ch.ariVarNames = this.cfg.channelvars;
    const em = {
      host: o.host === 'localhost' ? '127.0.0.1' : o.host,
      port: o.port,
      externalHost: o.externalHost,
      format,
      formatName: o.formatName,
      socket,
      localPort: socket.address().port,
      header: { ssrc: randomUint32(rng), seq: Math.floor(rng() * 0x10000), ts: format?.samplesPerFrame ?? 320 },
      seed,
      source: null,
      rtpReceived: 0,
    };
    ch.em = em;
    socket.on('message', () => {
      em.rtpReceived++;
    });
    for (const [k, v] of Object.entries(o.variables)) ch.vars.set(k, v);
    ch.vars.set('UNICASTRTP_LOCAL_PORT', String(em.localPort));
    ch.vars.set('UNICASTRTP_LOCAL_ADDRESS', '127.0.0.1');
    this.channels.set(id, ch);
    ch.apps.add(o.app);
    const run = (): void => {
      if (!ch.alive) return;
      const dialstring = `${o.externalHost}/c(${o.formatName})`;
      this.emitCh(ch, ev.dial(ch, '', dialstring));
      ch.state = 'Up';
      this.emitCh(ch, ev.stateChange(ch));
      this.emitCh(ch, ev.dial(ch, 'ANSWER', dialstring));
      this.enterStasis(ch, o.app, o.data ? [o.data] : [], true);
    };
    return { ch, run };
  }

  // ---------------------------------------------------------------- bridges

  createBridge(o: { id?: string; type?: string; name?: string }): SimBridge {
    const id = o.id ?? this.ids.bridgeId();
    if (this.bridges.has(id)) throw new AriError(409, 'Conflict', `Bridge with id '${id}' already exists`);
    const types = (o.type ?? 'mixing').split(',').map((t) => t.trim());
    const known = ['mixing', 'holding', 'dtmf_events', 'proxy_media', 'video_sfu', 'video_single', 'sdp_label'];
    if (!types.every((t) => known.includes(t))) {
      throw new AriError(500, 'Internal Error', `Unable to create bridge. Possible duplicate bridge id '${o.id ?? '(null)'}'`);
    }
    const bridgeType = types.includes('holding') ? 'holding' : 'mixing';
    const b = new SimBridge(id, bridgeType, 'stasis', 'Stasis', o.name ?? '', 'talker', bridgeType === 'holding' ? 'holding_bridge' : 'simple_bridge');
    this.bridges.set(id, b);
    return b;
  }

  createConfBridge(name: string): SimBridge {
    for (const b of this.bridges.values()) if (b.creator === 'ConfBridge' && b.name === name) return b;
    const b = new SimBridge(this.ids.bridgeId(), 'mixing', 'base', 'ConfBridge', name, 'none', 'softmix');
    this.bridges.set(b.id, b);
    return b;
  }

  joinBridge(b: SimBridge, ch: SimChannel): void {
    if (ch.bridgeId) this.leaveBridge(ch);
    b.channels.push(ch.id);
    ch.bridgeId = b.id;
    for (const app of ch.apps) b.apps.add(app);
    this.emit([...this.chTargets(ch), ...this.bridgeTargets(b)], ev.enteredBridge(b, ch));
    if (b.channels.length >= 2) this.updatePeers(b);
    // the smart bridge switches simple_bridge → softmix after the third join (the join event still shows the old one)
    if (b.bridgeType === 'mixing' && b.channels.length >= 3) b.technology = 'softmix';
    this.updateMedia();
  }

  leaveBridge(ch: SimChannel): void {
    const b = ch.bridgeId ? this.bridges.get(ch.bridgeId) : undefined;
    if (!b) {
      ch.bridgeId = null;
      return;
    }
    if (ch.bridgePeer !== '') {
      ch.vars.set('BRIDGEPEER', '');
      this.emitCh(ch, ev.varset(ch, 'BRIDGEPEER', ''));
    }
    const i = b.channels.indexOf(ch.id);
    if (i >= 0) b.channels.splice(i, 1);
    ch.bridgeId = null;
    this.emit([...this.chTargets(ch), ...this.bridgeTargets(b)], ev.leftBridge(b, ch));
    if (b.channels.length >= 2) this.updatePeers(b);
    if (b.bridgeClass === 'base' && b.channels.length === 0) {
      // ConfBridge tears its bridge down with the last participant (seen only by subscribeAll apps)
      this.bridges.delete(b.id);
      this.emit(this.bridgeTargets(b), ev.bridgeDestroyed(b));
    }
    this.updateMedia();
  }

  /** A channel was ejected: its apps stop hearing the bridge unless another of their channels is still in it. */
  private dropBridgeInterest(b: SimBridge, left: SimChannel): void {
    for (const app of left.apps) {
      if (!b.channels.some((id) => this.channels.get(id)?.apps.has(app))) b.apps.delete(app);
    }
  }

  /** BRIDGEPEER of every member: the other members' names, sorted, comma separated (only changes are reported). */
  private updatePeers(b: SimBridge): void {
    const members = b.channels.map((id) => this.channels.get(id)).filter((c): c is SimChannel => !!c);
    for (const m of members) {
      const value = members.filter((o) => o !== m).map((o) => o.name).sort().join(',');
      if (value !== m.bridgePeer) {
        m.vars.set('BRIDGEPEER', value);
        this.emitCh(m, ev.varset(m, 'BRIDGEPEER', value));
      }
    }
  }

  /**
   * DELETE /bridges/{id}: members leave (they stay in Stasis), then BridgeDestroyed. Asterisk ejects them in an order
   * of its own (`bridgeEjectOrder`), and an app's interest in the bridge ends when its last channel left
   * (res/stasis/control.c, after-bridge callback): BridgeDestroyed reaches the bridge's subscribers and the apps of
   * the last channel out (whose callback has not run yet), not an app whose channels were all ejected earlier.
   */
  destroyBridge(b: SimBridge): void {
    const members = b.channels.map((id) => this.channels.get(id)).filter((c): c is SimChannel => !!c);
    if (this.bridgeEjectOrder === 'reverse') members.reverse();
    for (const m of members) {
      if (m.bridgePeer !== '') {
        m.vars.set('BRIDGEPEER', '');
        this.emitCh(m, ev.varset(m, 'BRIDGEPEER', ''));
      }
    }
    for (const m of members) {
      const i = b.channels.indexOf(m.id);
      if (i >= 0) b.channels.splice(i, 1);
      m.bridgeId = null;
      this.emit([...this.chTargets(m), ...this.bridgeTargets(b)], ev.leftBridge(b, m));
      if (m !== members.at(-1)) this.dropBridgeInterest(b, m);
    }
    const targets = new Set<string>(this.bridgeTargets(b));
    for (const a of members.at(-1)?.apps ?? []) targets.add(a);
    this.bridges.delete(b.id);
    this.emit(targets, ev.bridgeDestroyed(b));
    this.updateMedia();
  }

  // ---------------------------------------------------------------- playbacks & DTMF

  play(ch: SimChannel, media: string, playbackId?: string): SimPlayback {
    const id = playbackId ?? this.ids.playbackId();
    if (this.playbacks.has(id)) throw new AriError(409, 'Conflict', `Playback with id '${id}' already exists`);
    const pb = new SimPlayback(id, media, ch.id);
    this.playbacks.set(id, pb);
    ch.playbacks.add(id);
    return pb;
  }

  startPlayback(pb: SimPlayback): void {
    const ch = this.channel(pb.channelId);
    if (!ch || pb.state !== 'queued') return;
    const { signal, durationMs, known } = mediaToSignal(pb.mediaUri);
    pb.state = 'playing';
    this.emitCh(ch, ev.playback('PlaybackStarted', pb));
    if (!known) {
      this.finishPlayback(pb, 'failed');
      return;
    }
    const now = this.nowMs();
    pb.layerId = this.addLayer(ch, 'out', signal, now, now + durationMs);
    if (Number.isFinite(durationMs)) {
      pb.timer = setTimeout(() => this.finishPlayback(pb, 'done'), durationMs);
      this.timers.add(pb.timer);
    }
  }

  /**
   * POST /bridges/{id}/play: every member hears it (Asterisk joins an announcer channel to the bridge), for the
   * media's length; events go to the bridge's apps.
   */
  playOnBridge(b: SimBridge, media: string, playbackId?: string): SimPlayback {
    const id = playbackId ?? this.ids.playbackId();
    if (this.playbacks.has(id)) throw new AriError(409, 'Conflict', `Playback with id '${id}' already exists`);
    const pb = new SimPlayback(id, media, '', b.id);
    this.playbacks.set(id, pb);
    this.later(2, () => {
      const { signal, durationMs, known } = mediaToSignal(media);
      pb.state = 'playing';
      this.emit(this.bridgeTargets(b), ev.playback('PlaybackStarted', pb));
      if (!known) return this.finishPlayback(pb, 'failed');
      const now = this.nowMs();
      for (const cid of b.channels) {
        const ch = this.channels.get(cid);
        const layer = ch && ch.kind !== 'externalMedia' ? this.addLayer(ch, 'out', signal, now, now + durationMs) : null;
        if (layer) pb.memberLayers.set(cid, layer);
      }
      if (Number.isFinite(durationMs)) {
        pb.timer = setTimeout(() => this.finishPlayback(pb, 'done'), durationMs);
        this.timers.add(pb.timer);
      }
    });
    return pb;
  }

  finishPlayback(pb: SimPlayback, state: 'done' | 'failed' = 'done'): void {
    if (pb.state === 'done' || pb.state === 'failed') return;
    if (pb.timer) {
      clearTimeout(pb.timer);
      this.timers.delete(pb.timer);
    }
    if (pb.bridgeId) {
      pb.state = state;
      for (const [cid, layer] of pb.memberLayers) {
        const ch = this.channels.get(cid);
        if (ch) this.endLayers(ch, 'out', layer);
      }
      const b = this.bridges.get(pb.bridgeId);
      if (b) this.emit(this.bridgeTargets(b), ev.playback('PlaybackFinished', pb));
      this.playbacks.delete(pb.id);
      return;
    }
    const ch = this.channels.get(pb.channelId);
    pb.state = state;
    if (ch) {
      if (pb.layerId) this.endLayers(ch, 'out', pb.layerId);
      ch.playbacks.delete(pb.id);
      this.emitCh(ch, ev.playback('PlaybackFinished', pb));
    }
    this.playbacks.delete(pb.id);
  }

  private finishPlaybacks(ch: SimChannel): void {
    for (const pid of [...ch.playbacks]) {
      const pb = this.playbacks.get(pid);
      if (pb) this.finishPlayback(pb, 'done');
    }
  }

  dtmf(ch: SimChannel, digit: string, durationMs: number): void {
    this.emitCh(ch, ev.dtmf(ch, digit, durationMs));
    ch.dtmfSink?.(digit);
  }

  /**
   * Global variables. asterisk-config's test dialplan polls TESTDTMF_<8-hex Local counter> every 100 ms on the
   * ;2 side and plays the digits with SendDTMF(): the ;1 half then receives them. The simulator does the same.
   */
  setGlobal(name: string, value: string): void {
    this.globals.set(name, value);
    const m = /^TESTDTMF_([0-9a-f]{8})$/.exec(name);
    if (!m || !value) return;
    this.later(100, () => {
      if (this.globals.get(name) !== value) return;
      this.globals.set(name, '');
      const ch2 = [...this.channels.values()].find((c) => c.alive && c.kind === 'local2' && c.name.endsWith(`-${m[1]};2`));
      const ch1 = ch2?.partnerId ? this.channel(ch2.partnerId) : undefined;
      if (!ch1) return;
      for (const digit of value) this.dtmf(ch1, digit, 100);
    });
  }

  // ---------------------------------------------------------------- media

  impairmentsFor(em: SimChannel): Impairments {
    const own = this.impairmentsByChannel.get(em.id);
    if (own) return own;
    const b = em.bridgeId ? this.bridges.get(em.bridgeId) : undefined;
    if (b) {
      for (const id of b.channels) {
        const m = this.channels.get(id);
        if (!m || m === em) continue;
        const callId = m.snoop ? m.snoop.spiedId : m.id;
        const byCall = this.impairmentsByChannel.get(callId);
        if (byCall) return byCall;
      }
    }
    return this.globalImpairments;
  }

  /** Starts/stops each externalMedia channel's RTP according to its bridge (it sends when a bridge peer produces audio). */
  updateMedia(): void {
    for (const ch of this.channels.values()) {
      const em = ch.em;
      if (!em || !ch.alive) continue;
      const b = ch.bridgeId ? this.bridges.get(ch.bridgeId) : undefined;
      const producing =
        !!b &&
        !!em.format &&
        b.channels.some((id) => {
          const m = this.channels.get(id);
          return !!m && m !== ch && m.kind !== 'externalMedia';
        });
      if (producing && !em.source) {
        const format = em.format!;
        em.source = new RtpSource({
          socket: em.socket,
          host: em.host,
          port: em.port,
          format,
          header: em.header,
          render: (tMs, out) => this.renderWritten(ch, tMs, format.rate, out),
          impairments: () => this.impairmentsFor(ch),
          scheduler: this.scheduler,
          clockMs: () => this.nowMs(),
          seed: this.impairmentsFor(ch).seed ?? em.seed,
        });
        em.source.start();
      } else if (!producing && em.source) {
        em.source.stop();
        em.source = null;
      }
    }
  }

  /** What the bridge writes to `ch`: the sum of what every other member reads (softmix never returns your own audio). */
  renderWritten(ch: SimChannel, tMs: number, rate: number, out: Float64Array, depth = 0): void {
    const b = ch.bridgeId ? this.bridges.get(ch.bridgeId) : undefined;
    if (!b || depth > 4) return;
    for (const id of b.channels) {
      if (id === ch.id) continue;
      const m = this.channels.get(id);
      if (m) this.renderRead(m, tMs, rate, out, depth + 1, true);
    }
  }

  /**
   * What a channel produces (reads): a call its received audio, a snoop its spied directions, an externalMedia nothing.
   * `toBridge`: what the bridge takes from it, which includes what a whisper snoop (whisper in|both) plays into it —
   * a spy on the channel itself does not hear that (Asterisk 22: MixMonitor on the whispered channel missed it).
   */
  renderRead(ch: SimChannel, tMs: number, rate: number, out: Float64Array, depth = 0, toBridge = false): void {
    if (depth > 6) return;
    switch (ch.kind) {
      case 'local1':
      case 'local2': {
        renderLayers(ch.inLayers, tMs, rate, out);
        // A whisper rides on the frames passing through the channel (audiohook.c mixes it into each voice frame):
        // a channel that reads nothing (a silent Local half in Wait()) carries none of it to the bridge.
        if (toBridge && activeAt(ch.inLayers, tMs)) this.renderWhispers(ch, 'in', tMs, rate, out);
        // chan_local: what is written to one half is read from the other, whispers (out|both) into it included
        const partner = ch.kind === 'local2' && ch.partnerId ? this.channels.get(ch.partnerId) : undefined;
        if (partner?.alive) {
          renderLayers(partner.outLayers, tMs, rate, out);
          this.renderWritten(partner, tMs, rate, out, depth + 1);
          if (this.#writtenFlows(partner, tMs)) this.renderWhispers(partner, 'out', tMs, rate, out);
        }
        return;
      }
      case 'snoop': {
        const spied = ch.snoop ? this.channels.get(ch.snoop.spiedId) : undefined;
        if (!spied || !ch.snoop) return;
        const spy = ch.snoop.spy;
        if (spy === 'in' || spy === 'both') this.renderRead(spied, tMs, rate, out, depth + 1);
        if (spy === 'out' || spy === 'both') {
          renderLayers(spied.outLayers, tMs, rate, out);
          this.renderWritten(spied, tMs, rate, out, depth + 1);
        }
        return;
      }
      case 'externalMedia':
        return;
    }
  }

  /** Whether frames are written to `ch` at `tMs` (a playback toward it, or a bridge member that reads audio). */
  #writtenFlows(ch: SimChannel, tMs: number): boolean {
    if (activeAt(ch.outLayers, tMs)) return true;
    const b = ch.bridgeId ? this.bridges.get(ch.bridgeId) : undefined;
    return !!b && b.channels.some((id) => id !== ch.id && activeAt(this.channels.get(id)?.inLayers ?? [], tMs));
  }

  /** What whisper snoops on `ch` play toward `direction`: `in` goes to the bridge, `out` to the channel's own device. */
  private renderWhispers(ch: SimChannel, direction: 'in' | 'out', tMs: number, rate: number, out: Float64Array): void {
    for (const w of this.channels.values()) {
      if (w.alive && w.snoop?.spiedId === ch.id && (w.snoop.whisper === direction || w.snoop.whisper === 'both')) renderLayers(w.outLayers, tMs, rate, out);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Everything disappears without events (Asterisk crashed or restarted). */
  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const ch of [...this.channels.values()]) this.removeChannel(ch);
    this.channels.clear();
    this.bridges.clear();
    this.playbacks.clear();
  }

  close(): void {
    this.reset();
    this.scheduler.close();
  }
}

function activeAt(layers: readonly AudioLayer[], tMs: number): boolean {
  return layers.some((l) => l.startMs <= tMs && tMs < l.endMs);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}
