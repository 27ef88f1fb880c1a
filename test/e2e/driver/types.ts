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
  /** tag the call with this CUSTOMER_ID (originate `variables`); untagged by default */
  customerId?: string;
}

export interface PlacedCall {
  /** the channel in the Stasis app (Local/…;1) */
  channelId: string;
  name: string;
}

/** A Dial()-bridged call outside any Stasis app (asterisk-config [testdial]). */
export interface DialplanCall {
  /** the caller's ;1: runs Dial(), bridged with the called party (the call a recording is started on) */
  channelId: string;
  /** the caller's ;2 (its phone): a spy on it hears what the caller hears (a silent caller's only) */
  farHalfId: string;
  /** the called party's ;1 (says calleeTone Hz): a spy on it hears what the called party hears */
  calleeId: string;
}

export type ConferenceKind = 'confbridge' | 'ari';

export interface Conference {
  kind: ConferenceKind;
  name: string;
  /** known at once for ARI bridges (and in the simulator); for a real ConfBridge, once someone joined */
  bridgeId?: string;
}

/** The flow-action examples of asterisk-config/extensions.conf [flow-examples]. */
export type FlowScenario = 'record_all' | 'consent' | 'pause_resume' | 'record_for_customer';

export interface FlowOptions {
  /** consent: press 1 (true) or `declineDigit` (default 2) at the Read() */
  consent?: boolean;
  declineDigit?: string;
  /** pause_resume: the keys pressed at Read(CARD…) (default `4111#`) */
  cardDigits?: string;
  /** what the caller says all along (the recorded channel's `in`), Hz; default 300 */
  callerTone?: number;
  /** give up on `done` after this long (default 30 s) */
  timeoutMs?: number;
}

export interface FlowRun {
  /** the channel that runs the scenario and enters Stasis(<app>,recording_start…): the recorded call */
  channelId: string;
  name: string;
  /** resolves when that channel has hung up (rejects if it is still up after timeoutMs, or a Read() never came) */
  done: Promise<void>;
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
  /** a caller (silent, or saying `callerTone` Hz) that dials a party saying `calleeTone` Hz, from the dialplan, outside any Stasis app */
  placeDialplanCall(opts: { callerTone?: number; calleeTone: number }): Promise<DialplanCall>;
  startConference(opts: { name: string; kind?: ConferenceKind }): Promise<Conference>;
  /** a participant that says `tone` Hz */
  joinConference(conf: Conference, opts: { tone: number }): Promise<PlacedCall>;
  leaveConference(channelId: string): Promise<void>;
  /** the conference's bridge id (waits until it exists) */
  conferenceBridgeId(conf: Conference): Promise<string>;
  listLeftovers(): Promise<Leftovers>;
  /**
   * Runs a flow-action example: originates Local/tone<callerTone>@test with context=flow-examples and
   * extension=<scenario>; the ;1 half runs the scenario (Answer, Stasis(<app>,recording_start…), tones, Read(),
   * Hangup) and is returned as channelId; the ;2 half is the caller's phone (its tone, its keys). The keys the
   * scenario waits for (consent, card number) are pressed when its Read() is reached. The app must /continue
   * the channel after each Stasis(), or it stays there (as on Asterisk) and `done` times out.
   */
  runFlow(scenario: FlowScenario, opts?: FlowOptions): Promise<FlowRun>;
  /** hangs up what the driver created; stops the simulator */
  close(): Promise<void>;
}
