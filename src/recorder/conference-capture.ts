import { AriHttpError } from '../ari/ari-rest.js';
import type { AriBridge } from '../ari/types.js';
import { isOwnResource, resourceId } from './ari-ids.js';
import { beepConference } from './beep.js';
import { closeStream, openBridgeStream, openSnoopStream } from './capture.js';
import type { LiveRecording, ParticipantsCapture } from './live-recording.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';

export interface ConferenceDeps {
  ari: RecorderPorts['ari'];
  settings: RecorderSettings;
  /** The recorder's index of channels whose DTMF ends a recording (end_of_key on any participant). */
  keyListeners: Map<string, LiveRecording>;
}

/**
 * The capture of one conference, owned by its live recording: an ARI mixing bridge gives one mixed stream (our
 * externalMedia channel in it); a dialplan ConfBridge refuses foreign channels (409), so each participant gets a
 * snoop of their own (tags p0, p1, …), mixed in the worker, and joins, leaves and the end are followed by watching
 * the bridge's member list (Asterisk refuses an event subscription to a non-Stasis bridge: 422).
 */
export class ConferenceCapture implements ParticipantsCapture {
  /** Participants recorded through their own snoop: channel id → stream tag. */
  readonly #participants = new Map<string, string>();
  #next = 0;
  #mixed = false;

  constructor(
    private readonly live: LiveRecording,
    private readonly deps: ConferenceDeps,
    readonly bridgeId: string,
  ) {}

  async setup(bridge: AriBridge, askedAt: number): Promise<void> {
    const { live } = this;
    const members = bridge.channels.filter((id) => !isOwnResource(id));
    // end_of_key: any participant's key ends it. Their events reach us only once subscribed (dialplan or another
    // app's channels); later joins are subscribed as they come (joined()).
    if (live.options.end_of_key) await Promise.all(members.map((id) => this.#listenForKey(id)));
    if (live.options.beep_start) await beepConference(live, this.deps, bridge);
    await live.openMixer(live.options.beep_start ? live.now() : askedAt);
    if (bridge.bridge_class === 'stasis') {
      // Subscribed for the recording's lifetime: the bridge's end is heard whatever channels of ours are in it.
      this.#mixed = true;
      await live.subscribe(`bridge:${bridge.id}`);
      live.addStream('mix', await openBridgeStream(this.deps.ari, this.deps.settings, { ...(await live.mixerStream('mix')), bridgeId: bridge.id }));
      return;
    }
    await Promise.all(members.map((id) => this.#addParticipant(id)));
    this.#watch();
  }

  /** A participant joined (an ARI event, or seen in the member list). */
  joined(channelId: string): void {
    const { live } = this;
    if (live.ending) return;
    if (live.options.end_of_key) void live.afterSetup().then(() => this.#listenForKey(channelId));
    if (this.#mixed || this.#participants.has(channelId)) return;
    void live
      .afterSetup()
      .then(() => this.#addParticipant(channelId))
      .catch((err: unknown) => live.log.warn({ err: String(err), channel_id: channelId }, 'participant not recorded'));
  }

  /** A participant left: their stream becomes silence from now on. */
  left(channelId: string): void {
    const tag = this.#participants.get(channelId);
    if (this.live.ending || !tag) return;
    this.#participants.delete(channelId);
    void this.live.dropStream(tag).catch((err: unknown) => this.live.log.warn({ err: String(err) }, 'participant cleanup incomplete'));
  }

  /** A participant's snoop ended (StasisEnd): that participant hung up; the conference goes on. */
  snoopEnded(snoopId: string): void {
    for (const [channelId, tag] of this.#participants) if (snoopId === resourceId(this.live.id, `snoop-${tag}`)) this.left(channelId);
  }

  /** Every participant's snoop, mixed in the worker. */
  async #addParticipant(channelId: string): Promise<void> {
    const { live } = this;
    if (this.#participants.has(channelId)) return;
    const tag = `p${this.#next++}`;
    this.#participants.set(channelId, tag);
    let stream;
    try {
      stream = await openSnoopStream(this.deps.ari, this.deps.settings, { ...(await live.mixerStream(tag)), channelId, spy: 'in' });
    } catch (err) {
      // Forget the participant so the next look at the bridge tries again (if they are still there).
      this.#participants.delete(channelId);
      await live.dropStream(tag).catch(() => undefined);
      throw err;
    }
    if (live.ending || !this.#participants.has(channelId)) return void closeStream(this.deps.ari, stream).catch(() => undefined);
    live.addStream(tag, stream);
  }

  async #listenForKey(channelId: string): Promise<void> {
    const { live } = this;
    const keys = this.deps.keyListeners;
    if (live.ending || keys.has(channelId)) return;
    keys.set(channelId, live);
    live.onClose(() => {
      if (keys.get(channelId) === live) keys.delete(channelId);
    });
    await live.subscribe(`channel:${channelId}`);
  }

  /** Polls the ConfBridge's members (Asterisk sends no events for a bridge outside Stasis). */
  #watch(): void {
    const { live } = this;
    let busy = false;
    const poll = async () => {
      if (busy || live.ending) return;
      busy = true;
      try {
        const members = new Set((await this.deps.ari.rest.getBridge(this.bridgeId)).channels.filter((id) => !isOwnResource(id)));
        for (const id of members) if (!this.#participants.has(id)) this.joined(id);
        for (const id of [...this.#participants.keys()]) if (!members.has(id)) this.left(id);
        if (members.size === 0) void live.stop('conference_end').catch(() => undefined);
      } catch (err) {
        if (err instanceof AriHttpError && err.status === 404) void live.stop('conference_end').catch(() => undefined);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void poll(), this.deps.settings.confBridgePollMs);
    live.onClose(() => clearInterval(timer));
  }
}
