/** The simulated Asterisk's objects: channels, bridges, playbacks, and their JSON views. */
import type dgram from 'node:dgram';
import { randomUUID } from 'node:crypto';
import type { MediaFormat } from './codec.js';
import type { RtpHeaderState } from './impairments.js';
import type { RtpSource } from './rtp-source.js';
import type { AudioLayer } from './signals.js';
import { asteriskTimestamp } from './time.js';
import type { BridgeJson, ChannelJson, DialplanCep, PlaybackJson } from './types.js';

export type ChannelKind = 'local1' | 'local2' | 'snoop' | 'externalMedia';
export type SpyDirection = 'none' | 'both' | 'out' | 'in';

export interface ExternalMediaState {
  host: string;
  port: number;
  externalHost: string;
  /** null: a format Asterisk accepts but the simulator does not stream */
  format: MediaFormat | null;
  formatName: string;
  socket: dgram.Socket;
  localPort: number;
  header: RtpHeaderState;
  seed: number;
  source: RtpSource | null;
  rtpReceived: number;
}

export class SimChannel {
  state: string;
  dialplan: DialplanCep;
  readonly vars = new Map<string, string>();
  /** apps that receive this channel's events because it is (or was made) theirs: Stasis, ARI originate */
  readonly apps = new Set<string>();
  /** POST /applications/{app}/subscription?eventSource=channel:{id}: interest count per app (res/stasis/app.c forwards) */
  readonly subs = new Map<string, number>();
  stasis: { app: string; args: string[] } | null = null;
  bridgeId: string | null = null;
  /** the other half of a Local pair */
  partnerId: string | null = null;
  snoop: { spiedId: string; spy: SpyDirection; whisper: SpyDirection } | null = null;
  em: ExternalMediaState | null = null;
  /** what the channel receives ("in" for a snoop), e.g. the tone the ;2 side plays */
  inLayers: AudioLayer[] = [];
  /** what is sent to the channel ("out" for a snoop), e.g. an ARI playback */
  outLayers: AudioLayer[] = [];
  readonly playbacks = new Set<string>();
  alive = true;
  /** sim-ms when the dialplan side starts playing (audio before that is silence) */
  audioStartMs = 0;
  /** exten/context a Local channel was dialled with */
  exten = '';
  context = '';
  readonly createdAt: Date;
  /** snoops on this channel */
  readonly snoopIds = new Set<string>();
  /** set between the hangup request and ChannelDestroyed */
  hangingUp = false;
  /** the ;2 half is running Playback() */
  playing = false;
  /** starts the dialplan audio once an unanswered call is answered */
  pendingAnswer: (() => void) | null = null;
  /** dialplan run by the interpreter (test/sim/dialplan-interpreter.ts): Read() collecting keys */
  dtmfSink: ((digit: string) => void) | null = null;
  /** dialplan Stasis() waiting for POST /continue */
  onContinue: ((target: { context?: string; extension?: string; priority?: number }) => void) | null = null;
  /** settles the interpreter's waits when the channel goes away */
  readonly onGone = new Set<() => void>();
  /** the Playtones() layer of the interpreter */
  playtonesLayer: string | null = null;
  /** ari.conf `channelvars`: every snapshot carries each of them, "" when unset (main/stasis_channels.c) */
  ariVarNames: readonly string[] = [];

  constructor(
    readonly id: string,
    readonly name: string,
    readonly kind: ChannelKind,
    state: string,
    dialplan: DialplanCep,
    createdAt: Date = new Date(),
  ) {
    this.state = state;
    this.dialplan = dialplan;
    this.createdAt = createdAt;
  }

  get bridgePeer(): string {
    return this.vars.get('BRIDGEPEER') ?? '';
  }

  /** A snapshot; `allVars`: every variable of the channel instead (the externalMedia answer, resource_channels.c). */
  toJson(allVars = false): ChannelJson {
    const json: ChannelJson = {
      id: this.id,
      name: this.name,
      state: this.state,
      protocol_id: '',
      caller: { name: '', number: '' },
      connected: { name: '', number: '' },
      accountcode: '',
      dialplan: { ...this.dialplan },
      creationtime: asteriskTimestamp(this.createdAt),
      language: 'en',
    };
    if (allVars) {
      if (this.vars.size > 0) json.channelvars = Object.fromEntries(this.vars);
    } else if (this.ariVarNames.length > 0) json.channelvars = Object.fromEntries(this.ariVarNames.map((n) => [n, this.vars.get(n) ?? '']));
    return json;
  }
}

export class SimBridge {
  technology: string;
  readonly channels: string[] = [];
  /** apps subscribed to the bridge (those of the Stasis channels that entered it) */
  readonly apps = new Set<string>();
  /** POST /applications/{app}/subscription?eventSource=bridge:{id}: interest count per app */
  readonly subs = new Map<string, number>();
  readonly createdAt = new Date();

  constructor(
    readonly id: string,
    readonly bridgeType: string,
    /** stasis: made through ARI; base: ConfBridge; basic: the two-party bridge of Dial() */
    readonly bridgeClass: 'stasis' | 'base' | 'basic',
    readonly creator: string,
    readonly name: string,
    readonly videoMode: string,
    technology: string,
  ) {
    this.technology = technology;
  }

  toJson(): BridgeJson {
    return {
      id: this.id,
      technology: this.technology,
      bridge_type: this.bridgeType,
      bridge_class: this.bridgeClass,
      creator: this.creator,
      name: this.name,
      channels: [...this.channels],
      creationtime: asteriskTimestamp(this.createdAt),
      video_mode: this.videoMode,
    };
  }
}

export class SimPlayback {
  state: 'queued' | 'playing' | 'done' | 'failed' = 'queued';
  layerId: string | null = null;
  timer: NodeJS.Timeout | null = null;

  /** a bridge playback: the layer of each member that hears it */
  readonly memberLayers = new Map<string, string>();

  constructor(
    readonly id: string,
    readonly mediaUri: string,
    readonly channelId: string,
    /** set for a bridge playback (channelId is then '') */
    readonly bridgeId?: string,
  ) {}

  toJson(): PlaybackJson {
    const target = this.bridgeId ? `bridge:${this.bridgeId}` : `channel:${this.channelId}`;
    return { id: this.id, media_uri: this.mediaUri, target_uri: target, language: 'en', state: this.state };
  }
}

/** Identifier generators shaped like Asterisk's. */
export class IdGenerator {
  private channelCounter = 0;
  private localCounter = 0;
  private snoopCounter = 0;
  private readonly prefix: string;

  /** `systemName`: asterisk.conf's systemname, which Asterisk puts before its channel ids. */
  constructor(systemName = '') {
    const epoch = Math.floor(Date.now() / 1000);
    this.prefix = systemName ? `${systemName}-${epoch}` : String(epoch);
  }

  channelId(): string {
    return `${this.prefix}.${this.channelCounter++}`;
  }

  /** 8 hex digits, shared by the Local/<exten>@<ctx>-0000000N;1 names */
  localSuffix(): string {
    return hex8(this.localCounter++);
  }

  snoopSuffix(): string {
    return hex8(this.snoopCounter++);
  }

  bridgeId(): string {
    return randomUUID();
  }

  playbackId(): string {
    return randomUUID();
  }

  /** the `0x7fe8d800c700` part of a UnicastRTP channel name */
  pointer(): string {
    return `0x7fe8${Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0')}`;
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

export function localDialplan(context: string, exten: string): DialplanCep {
  return { context, exten, priority: 1, app_name: 'AppDial2', app_data: '(Outgoing Line)' };
}

export function defaultDialplan(appName: string, appData: string): DialplanCep {
  return { context: 'default', exten: 's', priority: 1, app_name: appName, app_data: appData };
}
