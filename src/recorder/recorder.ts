import { randomUUID } from 'node:crypto';
import { AriHttpError, AriUnreachableError } from '../ari/ari-rest.js';
import type { AriBridge, AriChannel } from '../ari/types.js';
import { AppError } from '../domain/errors.js';
import { newRecording, type RecordingOptions, type ReferenceType, type StopReason } from '../domain/recording.js';
import type { ReferenceRecord } from '../store/types.js';
import { isOwnResource } from './ari-ids.js';
import { channelOwner, conferenceOwner } from './ownership.js';
import { closeStream, openBridgeStream, openSnoopStream, whisperInto } from './capture.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';
import type { RecorderApi } from './types.js';
import { Reconciler } from './reconciler.js';
import { RecordingSession, setupError } from './session.js';
import { SetupSlots } from './setup-slots.js';

const refKey = (type: ReferenceType, id: string) => `${type}:${id}`;

/**
 * Starts and stops recordings: the ARI choreography, the mixer streams and the store's state machine.
 * Sessions live in memory only while a recording is active; everything durable is in the store.
 */
export class Recorder implements RecorderApi {
  readonly #byId = new Map<string, RecordingSession>();
  readonly #byRef = new Map<string, RecordingSession>();
  readonly #slots: SetupSlots;
  /** Conference participants whose DTMF can stop a recording (end_of_key): channel id → its recording. */
  readonly #keyListeners = new Map<string, RecordingSession>();
  /** Deletes the ARI objects no live recording owns (periodically, and after each failed setup). */
  readonly orphans: Reconciler;
  #draining = false;

  constructor(
    private readonly ports: RecorderPorts,
    private readonly settings: RecorderSettings,
  ) {
    this.#slots = new SetupSlots(settings.setupConcurrency, settings.setupWaitMs);
    this.orphans = new Reconciler(ports.ari.rest, () => new Set(this.#byId.keys()), ports.logger.child({ component: 'reconciler' }), {
      everyMs: settings.reconcileEveryMs,
      settleMs: settings.reconcileSettleMs,
    });
    ports.mixer.on('silence', (id) => void this.#byId.get(id)?.stop('silence').catch(() => undefined));
    // Dead media (Asterisk gone, the snoops destroyed unseen): the file ends at the last packet, not minutes later.
    ports.mixer.on('mediaTimeout', (id, lastPacketAtMs) => {
      const s = this.#byId.get(id);
      s?.log.warn({ last_packet_at: new Date(lastPacketAtMs).toISOString() }, 'no RTP on any stream: media timeout');
      void s?.stop('media_timeout', lastPacketAtMs).catch(() => undefined);
    });
    // A dead mixer worker ends the recording; the stop path keeps what reached the spool file.
    ports.mixer.on('recordingFailed', (id, err) => {
      const s = this.#byId.get(id);
      s?.log.error({ err: err.message }, 'mixer failed during the recording');
      void s?.stop('error').catch(() => undefined);
    });
  }

  session(id: string): RecordingSession | undefined {
    return this.#byId.get(id);
  }

  sessionFor(type: ReferenceType, referenceId: string): RecordingSession | undefined {
    return this.#byRef.get(refKey(type, referenceId));
  }

  async startCall(callId: string, customerId: string, options: RecordingOptions, askedAt = this.#now()): Promise<ReferenceRecord> {
    const channel = await this.#channel(callId);
    if (this.#callOwner(channel) !== customerId) throw notFound('call', callId);
    if (channel.state !== 'Up') throw new AppError('CALL_NOT_UP', `call ${callId} is ${channel.state}, not answered`, { state: channel.state });
    return this.#start('call', callId, customerId, options, async (s) => {
      // A call in our app takes a playback; any other call (dialplan, another app) hears it through a whisper snoop.
      if (options.beep_start && this.#inOurApp(channel)) await this.#beep(s, () => this.ports.ari.rest.play(callId, 'sound:beep'));
      else if (options.beep_start) {
        const whisper = { recordingId: s.id, channelId: callId, media: WHISPER_BEEP, ms: BEEP_MS, signal: s.abort.signal };
        await this.#beep(s, () => whisperInto(this.ports.ari, this.settings, whisper), 0);
      }
      await s.openMixer(options.beep_start ? this.#now() : askedAt, this.#timeline(options));
      // One snoop with both directions mixed by Asterisk (aligned by its audiohook), or one per direction (aligned
      // here by arrival time). Streams are set up in parallel; all settle, so a failure tears down everything.
      const taps = this.settings.callTap === 'both' ? (['both'] as const) : (['in', 'out'] as const);
      const results = await Promise.allSettled(
        taps.map(async (dir) => {
          const stream = await openSnoopStream(this.ports.ari, this.settings, { ...(await this.#mixerStream(s, dir)), channelId: callId, spy: dir });
          s.streams.set(dir, stream);
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      // Keep the call's own events (hangup, DTMF for end_of_key) after a flow action gives it back to the dialplan.
      await this.#subscribe(s, `channel:${callId}`);
    });
  }

  async startConference(confId: string, customerId: string, options: RecordingOptions, askedAt = this.#now()): Promise<ReferenceRecord> {
    const bridge = await this.#bridge(confId);
    if ((await this.#conferenceOwner(bridge)) !== customerId) throw notFound('conference', confId);
    return this.#start('conference', confId, customerId, options, async (s) => {
      // end_of_key: any participant's key ends it. Their events reach us only once subscribed (dialplan or another
      // app's channels); later joins are subscribed as they come (participantJoined).
      if (options.end_of_key) await Promise.all(bridge.channels.filter((id) => !isOwnResource(id)).map((id) => this.#listenForKey(s, id)));
      if (options.beep_start) await this.#beepConference(s, bridge);
      await s.openMixer(options.beep_start ? this.#now() : askedAt, this.#timeline(options));
      if (bridge.bridge_class === 'stasis') {
        // Our own (ARI) mixing bridge: one externalMedia channel in it receives the full mix.
        // Subscribed for the recording's lifetime: the bridge's end is heard whatever channels of ours are in it.
        await this.#subscribe(s, `bridge:${confId}`);
        s.streams.set('mix', await openBridgeStream(this.ports.ari, this.settings, { ...(await this.#mixerStream(s, 'mix')), bridgeId: confId }));
        return;
      }
      // A dialplan ConfBridge refuses foreign channels (409): one snoop per participant, mixed in the worker.
      // Asterisk also refuses an event subscription to a non-Stasis bridge (422), so joins, leaves and the end of
      // the conference are followed by watching the bridge's member list.
      await Promise.all(bridge.channels.filter((id) => !isOwnResource(id)).map((id) => this.#addParticipant(s, id)));
      this.#watchConfBridge(s, confId);
    });
  }

  /** A participant joined a snooped (ConfBridge) conference that is being recorded. */
  participantJoined(confId: string, channelId: string): void {
    const s = this.#byRef.get(refKey('conference', confId));
    if (s && !s.ending && s.options.end_of_key) void s.ready.then(() => this.#listenForKey(s, channelId)).catch(() => undefined);
    if (!s || s.ending || s.streams.has('mix') || s.participants.has(channelId)) return;
    void s.ready.then(() => this.#addParticipant(s, channelId)).catch((err: unknown) => s.log.warn({ err: String(err), channel_id: channelId }, 'participant not recorded'));
  }

  /** A participant left (or its snoop ended): its stream becomes silence from now on. */
  participantLeft(confId: string, channelId: string): void {
    const s = this.#byRef.get(refKey('conference', confId));
    const tag = s?.participants.get(channelId);
    if (!s || s.ending || !tag) return;
    s.participants.delete(channelId);
    const stream = s.streams.get(tag);
    s.streams.delete(tag);
    void this.ports.mixer.removeStream(s.id, tag).catch(() => undefined);
    if (stream) void closeStream(this.ports.ari, stream).catch((err: unknown) => s.log.warn({ err: String(err) }, 'participant cleanup incomplete'));
  }

  #watchConfBridge(s: RecordingSession, confId: string): void {
    let busy = false;
    const poll = async () => {
      if (busy || s.ending) return;
      busy = true;
      try {
        const members = new Set((await this.ports.ari.rest.getBridge(confId)).channels.filter((id) => !isOwnResource(id)));
        for (const id of members) if (!s.participants.has(id)) this.participantJoined(confId, id);
        for (const id of [...s.participants.keys()]) if (!members.has(id)) this.participantLeft(confId, id);
        if (members.size === 0) void s.stop('conference_end').catch(() => undefined);
      } catch (err) {
        if (err instanceof AriHttpError && err.status === 404) void s.stop('conference_end').catch(() => undefined);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void poll(), this.settings.confBridgePollMs);
    s.cleanups.push(async () => clearInterval(timer));
  }

  /** A mixer stream that accepts RTP only from the source Asterisk will announce for its externalMedia channel. */
  async #mixerStream(s: RecordingSession, tag: string) {
    const { port } = await this.ports.mixer.addStream(s.id, tag, { awaitSource: true });
    const expectSource = (source: { address: string; port: number }) => {
      s.log.debug({ stream: tag, source }, 'RTP source announced');
      return this.ports.mixer.expectSource(s.id, tag, source);
    };
    return { recordingId: s.id, tag, port, expectSource, signal: s.abort.signal };
  }

  async #addParticipant(s: RecordingSession, channelId: string): Promise<void> {
    if (s.participants.has(channelId)) return;
    const tag = s.nextParticipantTag();
    s.participants.set(channelId, tag);
    let stream;
    try {
      stream = await openSnoopStream(this.ports.ari, this.settings, { ...(await this.#mixerStream(s, tag)), channelId, spy: 'in' });
    } catch (err) {
      // Forget the participant so the next look at the bridge tries again (if they are still there).
      s.participants.delete(channelId);
      await this.ports.mixer.removeStream(s.id, tag).catch(() => undefined);
      throw err;
    }
    if (s.ending || !s.participants.has(channelId)) return void closeStream(this.ports.ari, stream).catch(() => undefined);
    s.streams.set(tag, stream);
  }

  stopCall(callId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#stopRef('call', callId, customerId, reason, atMs);
  }

  stopConference(confId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#stopRef('conference', confId, customerId, reason, atMs);
  }

  async getCall(callId: string, customerId: string): Promise<ReferenceRecord> {
    return this.#getRef('call', callId, customerId, async () => this.#callOwner(await this.#channel(callId)));
  }

  async getConference(confId: string, customerId: string): Promise<ReferenceRecord> {
    return this.#getRef('conference', confId, customerId, async () => this.#conferenceOwner(await this.#bridge(confId)));
  }

  /** A DTMF key on a channel: ends the call's recording, or the conference's whose participant it is, on its end_of_key. */
  keyPressed(channelId: string, digit: string): void {
    const s = this.#byRef.get(refKey('call', channelId)) ?? this.#keyListeners.get(channelId);
    if (s && !s.ending && s.options.end_of_key === digit) {
      s.log.info({ channel_id: channelId, digit }, 'end_of_key pressed');
      void s.stop('key').catch(() => undefined);
    }
  }

  async #listenForKey(s: RecordingSession, channelId: string): Promise<void> {
    if (s.ending || this.#keyListeners.has(channelId)) return;
    this.#keyListeners.set(channelId, s);
    s.cleanups.push(async () => {
      if (this.#keyListeners.get(channelId) === s) this.#keyListeners.delete(channelId);
    });
    await this.#subscribe(s, `channel:${channelId}`);
  }

  /** Ends an active recording by its reference, if any (hangup, conference end). Never throws. */
  endByReference(type: ReferenceType, referenceId: string, reason: StopReason): void {
    void this.#byRef.get(refKey(type, referenceId))?.stop(reason).catch(() => undefined);
  }

  /**
   * After the ARI WebSocket came back: events missed while it was down may have ended calls or conferences
   * (an Asterisk restart ends them all, silently). Whatever is gone ends its recording now.
   */
  async reconcile(): Promise<void> {
    await Promise.all(
      [...this.#byId.values()].map(async (s) => {
        if (s.ending) return;
        const { rest } = this.ports.ari;
        try {
          if (s.referenceType === 'call') await rest.getChannel(s.referenceId);
          else await rest.getBridge(s.referenceId);
        } catch (err) {
          if (!(err instanceof AriHttpError && err.status === 404)) return;
          s.log.info('recorded call or conference vanished while ARI was disconnected');
          void s.stop(s.referenceType === 'call' ? 'hangup' : 'conference_end').catch(() => undefined);
        }
      }),
    );
  }

  /** Starts the periodic reconcile of Asterisk's objects. */
  start(): void {
    this.orphans.start();
  }

  /** Stops every active recording (SIGTERM) and refuses new ones. */
  async drain(): Promise<void> {
    this.#draining = true;
    await Promise.allSettled([...this.#byId.values()].map((s) => s.stop('shutdown')));
    this.orphans.close();
  }

  async #start(
    type: ReferenceType,
    referenceId: string,
    customerId: string,
    options: RecordingOptions,
    setup: (s: RecordingSession) => Promise<void>,
  ): Promise<ReferenceRecord> {
    if (this.#draining) throw new AppError('SHUTTING_DOWN', 'the recorder is shutting down');
    // The whole setup holds a slot: a slow Asterisk is not flooded (SETUP_BUSY past the wait).
    const release = await this.#slots.acquire();
    try {
      const existing = await this.ports.store.getReference(type, referenceId);
      if (existing && existing.customer_id !== customerId) throw notFound(type, referenceId);
      const rec = newRecording({ id: randomUUID(), customer_id: customerId, reference_type: type, reference_id: referenceId, options, now: new Date() });
      await this.ports.store.createRecording(rec);
      const s = new RecordingSession(rec.id, type, referenceId, customerId, options, this.ports, this.settings, (done) => this.#forget(done));
      this.#byId.set(s.id, s);
      this.#byRef.set(refKey(type, referenceId), s);
      const run = setup(s);
      s.ready = run;
      try {
        await run;
      } catch (err) {
        // Ended (hangup, stop) while setting up: the stop path records the outcome; otherwise it is a setup failure.
        const e = s.ending ? new AppError('SETUP_FAILED', `${type} ${referenceId} ended during recording setup`) : await this.#explain(type, referenceId, err);
        await (s.ending ? s.stop('error') : s.fail(e)).catch(() => undefined);
        // What a slow Asterisk creates after we gave up is deleted when it appears.
        this.orphans.soon();
        throw e;
      }
      if (!s.ending) {
        const started = await this.ports.store.transition(s.id, 'recording', { tm_start: new Date(s.startAtMs).toISOString() });
        const limit = this.#timeline(options).maxDurationSec;
        s.armMaxDuration(limit);
        s.log.info({ limit_sec: limit }, 'recording started');
        await this.ports.webhooks.publish('recording_started', started).catch((err: unknown) => s.log.error({ err }, 'webhook enqueue failed'));
      }
      const ref = await this.ports.store.getReference(type, referenceId);
      if (!ref) throw new AppError('INTERNAL', `reference ${type} ${referenceId} vanished`);
      return ref;
    } finally {
      release();
    }
  }

  async #stopRef(type: ReferenceType, referenceId: string, customerId: string, reason: StopReason, askedAt = this.#now()): Promise<ReferenceRecord> {
    // A live session is known in memory: stopping it must not depend on Redis being reachable.
    const s = this.#byRef.get(refKey(type, referenceId));
    if (s && !s.ending) {
      if (s.customerId !== customerId) throw notFound(type, referenceId);
      await s.stop(reason, askedAt);
      const ref = await this.ports.store.getReference(type, referenceId);
      if (!ref) throw notFound(type, referenceId);
      return ref;
    }
    const ref = await this.ports.store.getReference(type, referenceId);
    if (!ref || ref.customer_id !== customerId) throw notFound(type, referenceId);
    throw new AppError('NO_ACTIVE_RECORDING', `${type} ${referenceId} has no active recording`);
  }

  async #getRef(type: ReferenceType, id: string, customerId: string, liveOwner: () => Promise<string | null>): Promise<ReferenceRecord> {
    const ref = await this.ports.store.getReference(type, id);
    if (ref) {
      if (ref.customer_id !== customerId) throw notFound(type, id);
      return ref;
    }
    if ((await liveOwner()) !== customerId) throw notFound(type, id);
    const now = new Date().toISOString();
    return { id, type, customer_id: customerId, recording_id: '', recording_ids: [], tm_create: now, tm_update: now };
  }

  async #subscribe(s: RecordingSession, eventSource: string): Promise<void> {
    const { rest, app } = this.ports.ari;
    try {
      await rest.subscribe(app, eventSource);
      s.cleanups.push(() => rest.unsubscribe(app, eventSource).catch(() => undefined));
    } catch (err) {
      s.log.warn({ err: String(err), event_source: eventSource }, 'event subscription refused');
    }
  }

  /** The options that shape the mixer's timeline: end_of_silence, and the max duration (option, capped by config). */
  #timeline(o: RecordingOptions): { silenceTimeoutMs?: number; maxDurationSec: number; mediaTimeoutMs: number } {
    return {
      silenceTimeoutMs: o.end_of_silence ? o.end_of_silence * 1000 : undefined,
      maxDurationSec: Math.min(o.duration || Infinity, this.settings.maxDurationSec),
      mediaTimeoutMs: this.settings.rtpTimeoutMs,
    };
  }

  #now(): number {
    return this.ports.now?.() ?? Date.now();
  }

  #forget(s: RecordingSession): void {
    if (this.#byId.get(s.id) === s) this.#byId.delete(s.id);
    const key = refKey(s.referenceType, s.referenceId);
    if (this.#byRef.get(key) === s) this.#byRef.delete(key);
  }

  /** In our Stasis app: its dialplan application is Stasis(<our app>[,args]) (the snapshot says so). */
  #inOurApp(channel: AriChannel): boolean {
    const dp = channel.dialplan;
    return dp?.app_name === 'Stasis' && (dp.app_data === this.ports.ari.app || (dp.app_data ?? '').startsWith(`${this.ports.ari.app},`));
  }

  /**
   * An ARI bridge takes a playback every participant hears. A ConfBridge takes none; a whisper (both directions) into
   * one participant is heard by that participant and, through the conference's mix, by all the others.
   */
  #beepConference(s: RecordingSession, bridge: AriBridge): Promise<void> {
    if (bridge.bridge_class === 'stasis') return this.#beep(s, () => this.ports.ari.rest.playOnBridge(bridge.id, 'sound:beep'));
    const first = bridge.channels.find((id) => !isOwnResource(id));
    if (!first) return Promise.resolve();
    const whisper = { recordingId: s.id, channelId: first, media: WHISPER_BEEP, ms: BEEP_MS, signal: s.abort.signal };
    return this.#beep(s, () => whisperInto(this.ports.ari, this.settings, whisper), 0);
  }

  /** Plays the beep (to a call, or to an ARI bridge: every participant hears it), then waits it out. */
  async #beep(s: RecordingSession, play: () => Promise<unknown>, holdMs = BEEP_MS): Promise<void> {
    try {
      await play();
      await new Promise((r) => setTimeout(r, holdMs));
    } catch (err) {
      s.log.warn({ err: String(err) }, 'beep_start could not be played');
    }
  }

  /**
   * Whose call this is, failing closed: its CUSTOMER_ID, else the default customer (never whoever asks first).
   * A CUSTOMER_ID that is not a customer id belongs to nobody (null).
   */
  #callOwner(channel: AriChannel): string | null {
    try {
      return channelOwner(channel) ?? this.settings.defaultCustomerId;
    } catch (err) {
      this.ports.logger.warn({ call_id: channel.id, err: (err as Error).message }, 'call not recordable: bad CUSTOMER_ID');
      return null;
    }
  }

  /** Whose conference this is: from its participants' CUSTOMER_ID (see conferenceOwner). */
  async #conferenceOwner(bridge: AriBridge): Promise<string | null> {
    const members = await Promise.all(
      bridge.channels.filter((id) => !isOwnResource(id)).map((id) => this.ports.ari.rest.getChannel(id).catch(() => null)),
    );
    try {
      return conferenceOwner(members.filter((m): m is AriChannel => m !== null), this.settings.defaultCustomerId);
    } catch (err) {
      this.ports.logger.warn({ conference_id: bridge.id, err: (err as Error).message }, 'conference not recordable: bad CUSTOMER_ID');
      return null;
    }
  }

  async #channel(callId: string): Promise<AriChannel> {
    if (isOwnResource(callId)) throw notFound('call', callId);
    try {
      return await this.ports.ari.rest.getChannel(callId);
    } catch (err) {
      throw ariError(err, () => notFound('call', callId));
    }
  }

  async #bridge(confId: string): Promise<AriBridge> {
    if (isOwnResource(confId)) throw notFound('conference', confId);
    try {
      return await this.ports.ari.rest.getBridge(confId);
    } catch (err) {
      throw ariError(err, () => notFound('conference', confId));
    }
  }

  /** A setup failure because the call vanished says so; anything else is a setup failure with Asterisk's words. */
  async #explain(type: ReferenceType, referenceId: string, err: unknown): Promise<AppError> {
    if (err instanceof AriUnreachableError) return new AppError('ARI_UNAVAILABLE', 'Asterisk did not answer the recording setup in time');
    if (err instanceof AriHttpError) {
      const stillThere = await (type === 'call' ? this.ports.ari.rest.getChannel(referenceId) : this.ports.ari.rest.getBridge(referenceId)).then(
        () => true,
        () => false,
      );
      if (!stillThere) return new AppError('SETUP_FAILED', `${type} ${referenceId} went away during recording setup`, { ari_error: err.message });
      return new AppError('ARI_REFUSED', `Asterisk refused the recording setup: ${err.message}`);
    }
    return setupError(err);
  }
}

/** The beep is ~250 ms; recording starts after it so the file does not open with it. */
const BEEP_MS = 300;
/** A tone needs no sound files; it plays until the whisper snoop is hung up (BEEP_MS later). */
const WHISPER_BEEP = 'tone:1000';

function notFound(type: ReferenceType, id: string): AppError {
  return type === 'call' ? new AppError('CALL_NOT_FOUND', `call ${id} not found`) : new AppError('CONFERENCE_NOT_FOUND', `conference ${id} not found`);
}

function ariError(err: unknown, onNotFound: () => AppError): AppError {
  if (err instanceof AriHttpError && (err.status === 404 || err.status === 400)) return onNotFound();
  if (err instanceof AriUnreachableError) return new AppError('ARI_UNAVAILABLE', 'Asterisk is not reachable');
  if (err instanceof AriHttpError) return new AppError('ARI_REFUSED', err.message);
  return setupError(err);
}
