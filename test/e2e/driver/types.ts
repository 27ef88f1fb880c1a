/**
 * What e2e tests need from "the phone network": place calls that play known tones, hang them up, press keys,
 * run conferences, and check what the product left behind. Two implementations: the in-process ARI simulator
 * (default) and a real Asterisk (when ARI_URL is set), so the same tests run against both.
 */
import type { AriSimulator } from '../../sim/index.js';
import type { BridgeJson, ChannelJson } from '../../sim/types.js';

export interface DriverPlaceCallOptions {
  /** frequency (Hz) the call's channel receives, i.e. the snoop's `in` (the ;2 dialplan side plays it); omit for silence */
  inTone?: number;
  /** frequency (Hz) sent to the call's channel, i.e. the snoop's `out` (an ARI playback `tone:<f>` toward ;1) */
  outTone?: number;
  /** default true. false: simulator only — the channel enters Stasis ringing and the app must answer it */
  answer?: boolean;
  /** use this `test`-context extension instead of one derived from inTone (e.g. `short440`: 3 s then hangup) */
  exten?: string;
}

export interface PlacedCall {
  /** the channel in the Stasis app (Local/…;1) */
  channelId: string;
  name: string;
}

export type ConferenceKind = 'confbridge' | 'ari';

export interface Conference {
  kind: ConferenceKind;
  name: string;
  /** known at once for ARI bridges (and in the simulator); for a real ConfBridge, once someone joined */
  bridgeId?: string;
}

export interface Leftovers {
  /** Snoop/… and UnicastRTP/… channels still alive (our app creates them, nobody else does) */
  channels: ChannelJson[];
  /** Stasis bridges still alive that the driver did not create itself */
  bridges: BridgeJson[];
}

export interface CallDriver {
  readonly kind: 'sim' | 'asterisk';
  /** base URL without `/ari`, e.g. http://127.0.0.1:8088 */
  readonly ariUrl: string;
  readonly ariUser: string;
  readonly ariPassword: string;
  /** the Stasis app the product must register (placeCall sends calls into it) */
  readonly app: string;
  /** present on the simulator driver: the full control API (impairments, failNext, restart…) */
  readonly simulator?: AriSimulator;
  placeCall(opts?: DriverPlaceCallOptions): Promise<PlacedCall>;
  /** far-end hangup (the dialplan side goes away, as when the remote party hangs up) */
  hangup(channelId: string): Promise<void>;
  /** the call's channel receives DTMF `digit` (ChannelDtmfReceived) */
  sendDtmf(channelId: string, digit: string): Promise<void>;
  startConference(opts: { name: string; kind?: ConferenceKind }): Promise<Conference>;
  /** a participant that says `tone` Hz */
  joinConference(conf: Conference, opts: { tone: number }): Promise<PlacedCall>;
  leaveConference(channelId: string): Promise<void>;
  /** the conference's bridge id (waits until it exists) */
  conferenceBridgeId(conf: Conference): Promise<string>;
  listLeftovers(): Promise<Leftovers>;
  /** hangs up what the driver created; stops the simulator */
  close(): Promise<void>;
}
