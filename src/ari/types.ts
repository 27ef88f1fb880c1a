/**
 * The ARI models and events the product uses, typed from Asterisk 22's swagger (api-docs/events.json,
 * channels.json, bridges.json) and validated at runtime when they arrive.
 */
export interface AriChannel {
  id: string;
  name: string;
  state: string;
  protocol_id?: string;
  caller?: { name: string; number: string };
  connected?: { name: string; number: string };
  accountcode?: string;
  dialplan?: { context: string; exten: string; priority: number; app_name?: string; app_data?: string };
  creationtime?: string;
  language?: string;
  channelvars?: Record<string, string>;
}

export interface AriBridge {
  id: string;
  technology: string;
  bridge_type: string;
  bridge_class: string;
  creator: string;
  name: string;
  channels: string[];
  creationtime?: string;
}

interface EventBase {
  asterisk_id?: string;
  application: string;
  timestamp: string;
}

export type AriEvent =
  | (EventBase & { type: 'StasisStart'; args: string[]; channel: AriChannel; replace_channel?: AriChannel })
  | (EventBase & { type: 'StasisEnd'; channel: AriChannel })
  | (EventBase & { type: 'ChannelStateChange'; channel: AriChannel })
  | (EventBase & { type: 'ChannelDestroyed'; cause: number; cause_txt: string; channel: AriChannel })
  | (EventBase & { type: 'ChannelHangupRequest'; cause?: number; soft?: boolean; channel: AriChannel })
  | (EventBase & { type: 'ChannelEnteredBridge'; bridge: AriBridge; channel?: AriChannel })
  | (EventBase & { type: 'ChannelLeftBridge'; bridge: AriBridge; channel: AriChannel })
  | (EventBase & { type: 'BridgeDestroyed'; bridge: AriBridge })
  | (EventBase & { type: 'ChannelDtmfReceived'; digit: string; duration_ms: number; channel: AriChannel });

export type AriEventType = AriEvent['type'];
export type AriEventOf<T extends AriEventType> = Extract<AriEvent, { type: T }>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isChannel = (v: unknown): v is AriChannel => isObj(v) && typeof v.id === 'string' && typeof v.name === 'string' && typeof v.state === 'string';
export const isBridge = (v: unknown): v is AriBridge => isObj(v) && typeof v.id === 'string' && Array.isArray(v.channels);

/**
 * Validates an incoming WebSocket message. Returns the typed event for the types we act on, `null` for
 * well-formed events we ignore, and throws for malformed ones (the caller logs and drops them).
 */
export function parseAriEvent(raw: unknown): AriEvent | null {
  if (!isObj(raw) || typeof raw.type !== 'string') throw new Error('ARI event without a type');
  const e = raw as Record<string, unknown>;
  switch (raw.type) {
    case 'StasisStart':
      if (!isChannel(e.channel) || !Array.isArray(e.args)) break;
      return raw as unknown as AriEvent;
    case 'StasisEnd':
    case 'ChannelStateChange':
    case 'ChannelHangupRequest':
    case 'ChannelDestroyed':
      if (!isChannel(e.channel)) break;
      return raw as unknown as AriEvent;
    case 'ChannelDtmfReceived':
      if (!isChannel(e.channel) || typeof e.digit !== 'string') break;
      return raw as unknown as AriEvent;
    case 'ChannelEnteredBridge':
    case 'ChannelLeftBridge':
      if (!isBridge(e.bridge) || (e.channel !== undefined && !isChannel(e.channel))) break;
      return raw as unknown as AriEvent;
    case 'BridgeDestroyed':
      if (!isBridge(e.bridge)) break;
      return raw as unknown as AriEvent;
    default:
      return null;
  }
  throw new Error(`malformed ARI event ${raw.type}`);
}
