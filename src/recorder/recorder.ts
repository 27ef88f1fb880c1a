import { randomUUID } from 'node:crypto';
import { AriHttpError, AriUnreachableError } from '../ari/ari-rest.js';
import type { AriBridge, AriChannel } from '../ari/types.js';
import { AppError, isAppError } from '../domain/errors.js';
import { newRecording, type RecordingOptions, type ReferenceType, type StopReason } from '../domain/recording.js';
import type { ReferenceRecord } from '../store/types.js';
import { isOwnResource } from './ari-ids.js';
import { channelOwner, conferenceOwner } from './ownership.js';
import { captureCall } from './call-capture.js';
import { ConferenceCapture } from './conference-capture.js';
import { LiveRecording, setupError } from './live-recording.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';
import type { PauseBehavior, RecorderApi } from './types.js';
import { Reconciler } from './reconciler.js';
import { SetupSlots } from './setup-slots.js';
import { retryWhileStoreDown } from './store-retry.js';

const refKey = (type: ReferenceType, id: string) => `${type}:${id}`;

/**
 * The registry and factory of live recordings: checks who owns a call or conference, creates the LiveRecording and
 * its capture (call-capture.ts, conference-capture.ts), and finds it again for the ARI events (event-router.ts)
 * and the stops. Live recordings exist in memory only while active; everything durable is in the store.
 */
export class Recorder implements RecorderApi {
  readonly #byId = new Map<string, LiveRecording>();
  readonly #byRef = new Map<string, LiveRecording>();
  readonly #slots: SetupSlots;
  /** Conference participants whose DTMF can stop a recording (end_of_key): channel id → its recording. */
  readonly #keyListeners = new Map<string, LiveRecording>();
  /** Deletes the ARI objects no live recording owns (periodically, and after each failed setup). */
  readonly orphans: Reconciler;
  #draining = false;
  /** The drain's grace period is over: whatever is still live is stopped, accepted starts give up. */
  #stopAll = false;
  /** Starts that passed the drain check and have not settled yet (not all registered in #byId). */
  #pendingStarts = 0;
  readonly #waiters = new Set<() => void>();

  constructor(
    private readonly ports: RecorderPorts,
    private readonly settings: RecorderSettings,
  ) {
    this.#slots = new SetupSlots(settings.setupConcurrency, settings.setupWaitMs);
    this.orphans = new Reconciler(ports.ari.rest, () => new Set(this.#byId.keys()), ports.logger.child({ component: 'reconciler' }), {
      everyMs: settings.reconcileEveryMs,
      settleMs: settings.reconcileSettleMs,
    });
    ports.mixer.on('silence', (id, atMs) => void this.#byId.get(id)?.stop('silence', atMs).catch(() => undefined));
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

  recording(id: string): LiveRecording | undefined {
    return this.#byId.get(id);
  }

  recordingFor(type: ReferenceType, referenceId: string): LiveRecording | undefined {
    return this.#byRef.get(refKey(type, referenceId));
  }

  /** Live recordings (setting up, recording or stopping) by reference type: the metrics' active gauge. */
  activeCounts(): Record<ReferenceType, number> {
    const counts: Record<ReferenceType, number> = { call: 0, conference: 0 };
    for (const s of this.#byId.values()) counts[s.referenceType]++;
    return counts;
  }

  async startCall(callId: string, customerId: string, options: RecordingOptions, askedAt = this.#now()): Promise<ReferenceRecord> {
    if (this.#draining) throw shuttingDown();
    const channel = await this.#channel(callId);
    if (this.#callOwner(channel) !== customerId) throw notFound('call', callId);
    if (channel.state !== 'Up') throw new AppError('CALL_NOT_UP', `call ${callId} is ${channel.state}, not answered`, { state: channel.state });
    return this.#start('call', callId, customerId, options, (live) => captureCall(live, this.#captureDeps(), channel, askedAt));
  }

  async startConference(confId: string, customerId: string, options: RecordingOptions, askedAt = this.#now()): Promise<ReferenceRecord> {
    if (this.#draining) throw shuttingDown();
    if (options.channels === 2) throw new AppError('VALIDATION', 'a conference is recorded in one channel (channels 2 is for calls)', { field: 'channels' });
    const bridge = await this.#bridge(confId);
    if ((await this.#conferenceOwner(bridge)) !== customerId) throw notFound('conference', confId);
    return this.#start('conference', confId, customerId, options, (live) => {
      const capture = new ConferenceCapture(live, { ...this.#captureDeps(), keyListeners: this.#keyListeners }, confId);
      live.conference = capture;
      return capture.setup(bridge, askedAt);
    });
  }

  /** A participant joined a conference that is being recorded. */
  participantJoined(confId: string, channelId: string): void {
    this.#byRef.get(refKey('conference', confId))?.conference?.joined(channelId);
  }

  /** A participant left (or its snoop ended): its stream becomes silence from now on. */
  participantLeft(confId: string, channelId: string): void {
    this.#byRef.get(refKey('conference', confId))?.conference?.left(channelId);
  }

  stopCall(callId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#stopRef('call', callId, customerId, reason, atMs);
  }

  stopConference(confId: string, customerId: string, reason: StopReason, atMs?: number): Promise<ReferenceRecord> {
    return this.#stopRef('conference', confId, customerId, reason, atMs);
  }

  pauseCall(callId: string, customerId: string, behavior: PauseBehavior, atMs = this.#now()): Promise<ReferenceRecord> {
    return this.#pauseRef('call', callId, customerId, (s) => s.pause(behavior, atMs));
  }

  resumeCall(callId: string, customerId: string, atMs = this.#now()): Promise<ReferenceRecord> {
    return this.#pauseRef('call', callId, customerId, (s) => s.resume(atMs));
  }

  pauseConference(confId: string, customerId: string, behavior: PauseBehavior, atMs = this.#now()): Promise<ReferenceRecord> {
    return this.#pauseRef('conference', confId, customerId, (s) => s.pause(behavior, atMs));
  }

  resumeConference(confId: string, customerId: string, atMs = this.#now()): Promise<ReferenceRecord> {
    return this.#pauseRef('conference', confId, customerId, (s) => s.resume(atMs));
  }

  /** Pause or resume the live recording of a reference (this node's); the reference as the store has it after. */
  async #pauseRef(type: ReferenceType, referenceId: string, customerId: string, op: (s: LiveRecording) => Promise<void>): Promise<ReferenceRecord> {
    const s = this.#byRef.get(refKey(type, referenceId));
    if (!s || s.ending) {
      const ref = await this.ports.store.getReference(type, referenceId);
      if (!ref || ref.customer_id !== customerId) throw notFound(type, referenceId);
      throw new AppError('NO_ACTIVE_RECORDING', `${type} ${referenceId} has no active recording`);
    }
    if (s.customerId !== customerId) throw notFound(type, referenceId);
    await op(s);
    const ref = await this.ports.store.getReference(type, referenceId);
    if (!ref) throw notFound(type, referenceId);
    return ref;
  }

  /** The call with its recordings and its live `status` (the channel's state, `hangup` once gone). */
  async getCall(callId: string, customerId: string): Promise<ReferenceRecord> {
    const ref = await this.#getRef('call', callId, customerId, async () => this.#callOwner(await this.#channel(callId)));
    const status = await this.#reachable(async () => {
      const channel = await this.#live(() => this.#channel(callId));
      return channel ? channelStatus(channel.state) : 'hangup';
    });
    return { ...ref, status };
  }

  /** The conference with its recordings and its live `status` (`active`, `ended` once its bridge is gone). */
  async getConference(confId: string, customerId: string): Promise<ReferenceRecord> {
    const ref = await this.#getRef('conference', confId, customerId, async () => this.#conferenceOwner(await this.#bridge(confId)));
    const status = await this.#reachable(async () => ((await this.#live(() => this.#bridge(confId))) ? 'active' : 'ended'));
    return { ...ref, status };
  }

  /** The live status, or `unknown` while Asterisk cannot be asked: the stored recordings are still worth showing. */
  async #reachable(status: () => Promise<string>): Promise<string> {
    try {
      return await status();
    } catch (err) {
      if (err instanceof AppError && err.code === 'ari_unavailable') return 'unknown';
      throw err;
    }
  }

  /** The object, or null when Asterisk says it is gone (404); Asterisk unreachable is an error, never a guess. */
  async #live<T>(get: () => Promise<T>): Promise<T | null> {
    try {
      return await get();
    } catch (err) {
      if (err instanceof AppError && (err.code === 'call_not_found' || err.code === 'conference_not_found')) return null;
      throw err;
    }
  }

  /** A DTMF key on a channel: ends the call's recording, or the conference's whose participant it is, on its end_of_key. */
  keyPressed(channelId: string, digit: string): void {
    const s = this.#byRef.get(refKey('call', channelId)) ?? this.#keyListeners.get(channelId);
    if (s && !s.ending && s.options.end_of_key === digit) {
      s.log.info({ channel_id: channelId, digit }, 'end_of_key pressed');
      void s.stop('key').catch(() => undefined);
    }
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
          // It ended when its audio did (an Asterisk restart, a hangup unseen), not now: the file gets no silent tail.
          const lastPacketAt = await this.ports.mixer.lastPacketAt?.(s.id).catch(() => null);
          s.log.info({ last_packet_at: lastPacketAt ? new Date(lastPacketAt).toISOString() : null }, 'recorded call or conference vanished while ARI was disconnected');
          void s.stop(s.referenceType === 'call' ? 'hangup' : 'conference_end', lastPacketAt ?? undefined).catch(() => undefined);
        }
      }),
    );
  }

  /** Starts the periodic reconcile of Asterisk's objects. */
  start(): void {
    this.orphans.start();
  }

  /** Whether new recordings are refused (`SHUTTING_DOWN`): the daemon is draining. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Live recordings, those still in setup included. */
  get activeCount(): number {
    return this.#byId.size;
  }

  /** Refuses new recordings from now on (`503 shutting_down`, API and flow actions); the active ones go on. */
  refuseNew(): void {
    this.#draining = true;
  }

  /**
   * The drain (SIGTERM): refuses new recordings, lets the active ones run until they end by themselves or `graceMs`
   * passes (or `signal` aborts: a second signal), then stops the rest (`shutdown`). Resolves once every recording has
   * ended and handed its file over (upload queued), starts that were under way when the drain began included.
   */
  async drain(opts: { graceMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    this.refuseNew();
    const graceMs = opts.graceMs ?? 0;
    if (graceMs > 0 && this.#busy() && !opts.signal?.aborted) {
      this.ports.logger.info({ active: this.#byId.size, grace_sec: graceMs / 1000 }, 'draining: active recordings run until they end or the grace period passes');
      const deadline = Date.now() + graceMs;
      while (this.#busy() && Date.now() < deadline && !opts.signal?.aborted) await this.#changed(deadline - Date.now(), opts.signal);
    }
    this.#stopAll = true;
    while (this.#busy()) {
      const live = [...this.#byId.values()];
      if (live.length === 0) {
        await this.#changed(1000); // a start between its check and its registration: it registers or gives up
        continue;
      }
      this.ports.logger.info({ active: live.length }, 'stopping the active recordings (shutdown)');
      await Promise.allSettled(live.map((s) => s.stop('shutdown')));
      // A stopped recording leaves the registry as it ends ('ended'); one still listed is waited for, not spun on.
      if (live.some((s) => this.#byId.get(s.id) === s)) await this.#changed(1000);
    }
    this.orphans.close();
  }

  #busy(): boolean {
    return this.#byId.size > 0 || this.#pendingStarts > 0;
  }

  /** Resolves at the next change of the registry (a recording ended, a start settled), after `ms`, or on abort. */
  #changed(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  async #start(
    type: ReferenceType,
    referenceId: string,
    customerId: string,
    options: RecordingOptions,
    setup: (live: LiveRecording) => Promise<void>,
  ): Promise<ReferenceRecord> {
    if (this.#draining) throw shuttingDown();
    // Past capacity nothing is created: the recordings already running stay perfect (mixer/admission.ts).
    this.ports.mixer.assertAdmission?.();
    this.#pendingStarts++;
    try {
      return await this.#startAccepted(type, referenceId, customerId, options, setup);
    } finally {
      this.#pendingStarts--;
      this.#notify();
    }
  }

  async #startAccepted(
    type: ReferenceType,
    referenceId: string,
    customerId: string,
    options: RecordingOptions,
    setup: (live: LiveRecording) => Promise<void>,
  ): Promise<ReferenceRecord> {
    // The whole setup holds a slot: a slow Asterisk is not flooded (SETUP_BUSY past the wait).
    const release = await this.#slots.acquire();
    try {
      // Accepted before the drain began, but its grace period is over: nothing is created.
      if (this.#stopAll) throw shuttingDown();
      const existing = await this.ports.store.getReference(type, referenceId);
      if (existing && existing.customer_id !== customerId) throw notFound(type, referenceId);
      const rec = newRecording({ id: randomUUID(), customer_id: customerId, reference_type: type, reference_id: referenceId, options, node_id: this.settings.nodeId, now: new Date() });
      await this.ports.store.createRecording(rec).catch((err: unknown) => {
        // A write whose answer was lost (a timeout, a failover) may still have landed: the recording would then sit in
        // `starting`, blocking its call, until a restart. Failed once Redis answers (not found: it never landed).
        if (isAppError(err) && err.code === 'store_unavailable') void this.#failUnconfirmed(rec.id);
        throw err;
      });
      const s = new LiveRecording(rec.id, type, referenceId, customerId, options, this.ports, this.settings);
      s.on('ended', (done) => this.#forget(done));
      this.#byId.set(s.id, s);
      this.#byRef.set(refKey(type, referenceId), s);
      try {
        await s.setup(setup(s));
      } catch (err) {
        // Ended (hangup, stop) while setting up: the stop path records the outcome; otherwise it is a setup failure.
        const e = s.ending ? new AppError('SETUP_FAILED', `${type} ${referenceId} ended during recording setup`) : await this.#explain(type, referenceId, err);
        await (s.ending ? s.stop('error') : s.fail(e)).catch(() => undefined);
        // What a slow Asterisk creates after we gave up is deleted when it appears.
        this.orphans.soon();
        throw e;
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

  #captureDeps() {
    return { ari: this.ports.ari, settings: this.settings };
  }

  #now(): number {
    return this.ports.clock.now();
  }

  async #failUnconfirmed(id: string): Promise<void> {
    const log = this.ports.logger.child({ recording_id: id });
    const err = await retryWhileStoreDown(async () => {
      try {
        await this.ports.store.transition(id, 'failed', { stop_reason: 'error', error: { code: 'store_unavailable', message: 'the store did not confirm the recording' } });
        log.warn('recording whose creation was not confirmed: failed');
      } catch (e) {
        if (!(isAppError(e) && (e.code === 'recording_not_found' || e.code === 'invalid_transition'))) throw e;
      }
    }, this.settings.storeRetry);
    if (err) log.error({ err }, 'unconfirmed recording could not be failed; restart recovery will');
  }

  #forget(s: LiveRecording): void {
    if (this.#byId.get(s.id) === s) this.#byId.delete(s.id);
    const key = refKey(s.referenceType, s.referenceId);
    if (this.#byRef.get(key) === s) this.#byRef.delete(key);
    this.#notify();
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

  /** Whether this node's Asterisk has the call or conference (fleet routing asks each node). */
  async hasOnAsterisk(type: ReferenceType, id: string): Promise<boolean> {
    return (await this.#live<unknown>(() => (type === 'call' ? this.#channel(id) : this.#bridge(id)))) !== null;
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

/** Asterisk's channel state (`Up`, `Ringing`, `Dialing Offhook`, `Pre-ring`…) as an API value: `up`, `dialing_offhook`, `pre_ring`. */
export function channelStatus(state: string): string {
  const s = state.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return s || 'unknown';
}

function shuttingDown(): AppError {
  return new AppError('SHUTTING_DOWN', 'the recorder is shutting down: no new recordings');
}

function notFound(type: ReferenceType, id: string): AppError {
  return type === 'call' ? new AppError('CALL_NOT_FOUND', `call ${id} not found`) : new AppError('CONFERENCE_NOT_FOUND', `conference ${id} not found`);
}

function ariError(err: unknown, onNotFound: () => AppError): AppError {
  if (err instanceof AriHttpError && (err.status === 404 || err.status === 400)) return onNotFound();
  if (err instanceof AriUnreachableError) return new AppError('ARI_UNAVAILABLE', 'Asterisk is not reachable');
  if (err instanceof AriHttpError) return new AppError('ARI_REFUSED', err.message);
  return setupError(err);
}
