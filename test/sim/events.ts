/**
 * ARI events: builders with Asterisk's field order, and the bus that delivers them to the WebSocket
 * connections of each Stasis application (adding `asterisk_id` and `application`, as Asterisk does).
 */
import type { SimBridge, SimChannel, SimPlayback } from './model.js';
import { asteriskTimestamp } from './time.js';
import type { AriEvent } from './types.js';

export interface EventSocket {
  send(data: string): void;
}

export interface LoggedEvent {
  app: string;
  event: AriEvent;
  /** simulator ms */
  atMs: number;
}

type Listener = (e: LoggedEvent) => void;

export class EventBus {
  private readonly sockets = new Map<string, Set<EventSocket>>();
  /** sockets opened with `subscribeAll=true`: their apps get every event (res_stasis STASIS_APP_SUBSCRIBE_ALL) */
  private readonly allSockets = new Map<EventSocket, readonly string[]>();
  private readonly listeners = new Set<Listener>();
  readonly log: LoggedEvent[] = [];

  constructor(
    private readonly asteriskId: string,
    private readonly clockMs: () => number,
  ) {}

  register(apps: readonly string[], socket: EventSocket, subscribeAll = false): void {
    if (subscribeAll) this.allSockets.set(socket, apps);
    for (const app of apps) {
      let set = this.sockets.get(app);
      if (!set) this.sockets.set(app, (set = new Set()));
      set.add(socket);
    }
  }

  unregister(socket: EventSocket): void {
    this.allSockets.delete(socket);
    for (const [app, set] of this.sockets) {
      set.delete(socket);
      if (set.size === 0) this.sockets.delete(app);
    }
  }

  isRegistered(app: string): boolean {
    return (this.sockets.get(app)?.size ?? 0) > 0;
  }

  registeredApps(): string[] {
    return [...this.sockets.keys()];
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Delivers `body` to every app in `targets` that has a connection (events for absent apps are lost, as in Asterisk). */
  emit(targets: Iterable<string>, body: AriEvent): void {
    const all = new Set(targets);
    for (const apps of this.allSockets.values()) for (const a of apps) all.add(a);
    for (const app of all) {
      const event: AriEvent = { ...body, asterisk_id: this.asteriskId, application: app };
      const logged: LoggedEvent = { app, event, atMs: this.clockMs() };
      this.log.push(logged);
      const sockets = this.sockets.get(app);
      if (sockets) {
        const data = JSON.stringify(event);
        for (const s of sockets) s.send(data);
      }
      for (const l of this.listeners) l(logged);
    }
  }
}

const ts = (): string => asteriskTimestamp();

export const ev = {
  dial(peer: SimChannel, dialstatus: string, dialstring: string): AriEvent {
    return { type: 'Dial', timestamp: ts(), dialstatus, forward: '', dialstring, peer: peer.toJson() };
  },
  channelDialplan(ch: SimChannel): AriEvent {
    return { type: 'ChannelDialplan', timestamp: ts(), dialplan_app: ch.dialplan.app_name, dialplan_app_data: ch.dialplan.app_data, channel: ch.toJson() };
  },
  stateChange(ch: SimChannel): AriEvent {
    return { type: 'ChannelStateChange', timestamp: ts(), channel: ch.toJson() };
  },
  varset(ch: SimChannel, variable: string, value: string): AriEvent {
    return { variable, value, type: 'ChannelVarset', timestamp: ts(), channel: ch.toJson() };
  },
  stasisStart(ch: SimChannel, args: string[]): AriEvent {
    return { type: 'StasisStart', timestamp: ts(), args, channel: ch.toJson() };
  },
  stasisEnd(ch: SimChannel): AriEvent {
    return { type: 'StasisEnd', timestamp: ts(), channel: ch.toJson() };
  },
  hangupRequest(ch: SimChannel, cause: number, soft: boolean): AriEvent {
    return soft
      ? { cause, soft: true, type: 'ChannelHangupRequest', timestamp: ts(), channel: ch.toJson() }
      : { cause, type: 'ChannelHangupRequest', timestamp: ts(), channel: ch.toJson() };
  },
  destroyed(ch: SimChannel, cause: number, causeTxt: string): AriEvent {
    return { type: 'ChannelDestroyed', timestamp: ts(), cause, cause_txt: causeTxt, channel: ch.toJson() };
  },
  enteredBridge(bridge: SimBridge, ch: SimChannel): AriEvent {
    return { type: 'ChannelEnteredBridge', timestamp: ts(), bridge: bridge.toJson(), channel: ch.toJson() };
  },
  leftBridge(bridge: SimBridge, ch: SimChannel): AriEvent {
    return { type: 'ChannelLeftBridge', timestamp: ts(), bridge: bridge.toJson(), channel: ch.toJson() };
  },
  bridgeDestroyed(bridge: SimBridge): AriEvent {
    return { type: 'BridgeDestroyed', timestamp: ts(), bridge: bridge.toJson() };
  },
  playback(type: 'PlaybackStarted' | 'PlaybackFinished', pb: SimPlayback): AriEvent {
    return { type, timestamp: ts(), playback: pb.toJson() };
  },
  dtmf(ch: SimChannel, digit: string, durationMs: number): AriEvent {
    return { type: 'ChannelDtmfReceived', timestamp: ts(), digit, duration_ms: durationMs, channel: ch.toJson() };
  },
};
