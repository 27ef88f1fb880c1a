import { AppError, clientMessage, isAppError, type ErrorCode } from '../domain/errors.js';
import type { RecordingOptions, RecordingPause, ReferenceType, StopReason } from '../domain/recording.js';
import { storageKey } from '../domain/storage-key.js';
import type { Logger } from '../logger.js';
import type { MixResult } from '../mixer/types.js';
import { wavMaxDurationSec } from '../audio/wav.js';
import { closeStream, type CapturedStream, type ExpectSource } from './capture.js';
import type { TransitionPatch } from '../store/types.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';
import { retryWhileStoreDown } from './store-retry.js';

/** What a conference's capture (conference-capture.ts) answers to; the recording owns it and closes it. */
export interface ParticipantsCapture {
  joined(channelId: string): void;
  left(channelId: string): void;
  /** One of its participants' snoops ended (that participant hung up). */
  snoopEnded(snoopId: string): void;
}

export interface LiveRecordingEvents {
  /** The recording has ended (stopped or failed) and released everything it owned. */
  ended: (r: LiveRecording) => void;
}

/**
 * One live recording, the owner of everything it made: its mixer streams and their ARI objects, its event
 * subscriptions, its timers, and what its reference's capture (call or conference) registered with `onClose`.
 * `stop()` and `fail()` are idempotent and share one promise: whatever ends the recording first wins (API, flow,
 * hangup, key, silence, max duration, shutdown), the rest wait for the same outcome; closing cascades to every part.
 */
export class LiveRecording {
  readonly #streams = new Map<string, CapturedStream>();
  /** Undo steps run at close (event subscriptions, a conference's watch and its participants' key listeners). */
  readonly #cleanups: Array<() => Promise<unknown> | void> = [];
  readonly #listeners: { [K in keyof LiveRecordingEvents]: LiveRecordingEvents[K][] } = { ended: [] };
  readonly path: string;
  readonly log: Logger;
  /** A conference's capture (participants, ConfBridge watch), owned here and closed with the recording. */
  conference?: ParticipantsCapture;
  /** Set once setup has finished (successfully or not); stop waits for it. */
  #ready: Promise<void> = Promise.resolve();
  #settled = false;
  /** Aborted when the recording ends, so a setup still waiting on Asterisk gives up at once. */
  readonly #abort = new AbortController();
  #startAtMs = 0;
  #end?: Promise<void>;
  #timers: NodeJS.Timeout[] = [];
  #mixerOpen = false;
  /** Pauses so far (the last one open while paused), and the pause/resume steps, one at a time. */
  readonly #pauses: RecordingPause[] = [];
  #pauseOps: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly referenceType: ReferenceType,
    readonly referenceId: string,
    readonly customerId: string,
    readonly options: RecordingOptions,
    private readonly ports: RecorderPorts,
    private readonly settings: RecorderSettings,
  ) {
    this.path = ports.spool.pathOf(id);
    this.log = ports.logger.child({ recording_id: id, [`${referenceType}_id`]: referenceId });
  }

  on<K extends keyof LiveRecordingEvents>(event: K, listener: LiveRecordingEvents[K]): void {
    this.#listeners[event].push(listener);
  }

  get ending(): boolean {
    return this.#end !== undefined;
  }

  /** Aborted once the recording ends: setup steps pass it to what waits on Asterisk. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** When the file's timeline begins (epoch ms of the media clock). */
  get startAtMs(): number {
    return this.#startAtMs;
  }

  now(): number {
    return this.ports.clock.now();
  }

  /**
   * Runs the reference's setup, then starts the recording (`recording`, its event, the max duration). A stop that
   * comes meanwhile waits for it to settle; one that means the reference is gone aborts it (see stop()).
   */
  setup(run: Promise<void>): Promise<void> {
    this.#ready = run.then(() => this.#begin());
    this.#ready.then(
      () => (this.#settled = true),
      () => (this.#settled = true),
    );
    return this.#ready;
  }

  async #begin(): Promise<void> {
    await this.ports.store.transition(this.id, 'recording', { tm_start: new Date(this.#startAtMs).toISOString() });
    this.ports.metrics?.recordingStarted(this.referenceType);
    this.log.info({ limit_sec: this.#armMaxDuration() }, 'recording started');
  }

  get paused(): boolean {
    const last = this.#pauses.at(-1);
    return last !== undefined && last.tm_end === undefined;
  }

  /**
   * Pauses the recording inside its file from `atMs` on (the mixer leaves the audio out, or writes silence), then
   * `paused` with its `pauses` (and the event). If the store refuses, the mixer records again: never paused in the
   * file but not in the status.
   */
  pause(behavior: 'skip' | 'silence', atMs: number): Promise<void> {
    return this.#serial(async () => {
      await this.#ready;
      if (this.ending) throw new AppError('NO_ACTIVE_RECORDING', 'the recording is ending');
      if (this.paused) throw new AppError('ALREADY_PAUSED', 'the recording is already paused');
      await this.ports.mixer.pause(this.id, atMs, behavior);
      const pause: RecordingPause = { tm_start: new Date(atMs).toISOString(), behavior };
      try {
        await this.ports.store.transition(this.id, 'paused', { pauses: [...this.#pauses, pause] });
      } catch (err) {
        await this.ports.mixer.resume(this.id, atMs).catch(() => undefined);
        throw err;
      }
      this.#pauses.push(pause);
      this.log.info({ behavior }, 'recording paused');
    });
  }

  /** Records again from `atMs` on; `recording` with the pause closed (and `recording_resumed`). */
  resume(atMs: number): Promise<void> {
    return this.#serial(async () => {
      if (this.ending) throw new AppError('NO_ACTIVE_RECORDING', 'the recording is ending');
      const open = this.#pauses.at(-1);
      if (!open || open.tm_end !== undefined) throw new AppError('NOT_PAUSED', 'the recording is not paused');
      const closed = { ...open, tm_end: new Date(Math.max(atMs, Date.parse(open.tm_start))).toISOString() };
      await this.ports.store.transition(this.id, 'recording', { pauses: [...this.#pauses.slice(0, -1), closed] });
      this.#pauses[this.#pauses.length - 1] = closed;
      await this.ports.mixer.resume(this.id, atMs);
      this.log.info('recording resumed');
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#pauseOps.then(op, op);
    this.#pauseOps = run.catch(() => undefined);
    return run;
  }

  /** The pauses as the recording ends: one still open closes at the end. */
  #pausesAt(endAt: number): RecordingPause[] | undefined {
    if (this.#pauses.length === 0) return undefined;
    return this.#pauses.map((p) => (p.tm_end ? p : { ...p, tm_end: new Date(Math.max(endAt, Date.parse(p.tm_start))).toISOString() }));
  }

  /** Resolves once setup settled (whatever its outcome). */
  afterSetup(): Promise<void> {
    return this.#ready.catch(() => undefined);
  }

  /** Registers an undo step for close (runs once, errors logged). */
  onClose(undo: () => Promise<unknown> | void): void {
    this.#cleanups.push(undo);
  }

  addStream(tag: string, stream: CapturedStream): void {
    this.#streams.set(tag, stream);
  }

  hasStream(tag: string): boolean {
    return this.#streams.has(tag);
  }

  /** Whether `channelId` is the snoop of one of this recording's live streams (not one it is deleting itself). */
  ownsSnoop(channelId: string): boolean {
    return [...this.#streams.values()].some((st) => st.snoopId === channelId);
  }

  /** One stream ends before the recording does (a participant left): silence from now on in the mix. */
  async dropStream(tag: string): Promise<void> {
    const stream = this.#streams.get(tag);
    this.#streams.delete(tag);
    await this.ports.mixer.removeStream(this.id, tag).catch(() => undefined);
    if (stream) await closeStream(this.ports.ari, stream);
  }

  /** A mixer stream that accepts RTP only from the source Asterisk will announce for its externalMedia channel. */
  async mixerStream(tag: string): Promise<{ recordingId: string; tag: string; port: number; expectSource: ExpectSource; signal: AbortSignal }> {
    const { port } = await this.ports.mixer.addStream(this.id, tag, { awaitSource: true });
    const expectSource: ExpectSource = (source) => {
      this.log.debug({ stream: tag, source }, 'RTP source announced');
      return this.ports.mixer.expectSource(this.id, tag, source);
    };
    return { recordingId: this.id, tag, port, expectSource, signal: this.signal };
  }

  /** Hears `eventSource` (a call, a participant, a bridge) for the recording's lifetime; a refusal is logged. */
  async subscribe(eventSource: string): Promise<void> {
    const { rest, app } = this.ports.ari;
    try {
      await rest.subscribe(app, eventSource);
      this.onClose(() => rest.unsubscribe(app, eventSource).catch(() => undefined));
    } catch (err) {
      this.log.warn({ err: String(err), event_source: eventSource }, 'event subscription refused');
    }
  }

  /**
   * The options that shape the mixer's timeline: end_of_silence, and the max duration (option, capped by config and
   * by what a WAV of its format can hold: a longer one would end in an error, the rest of the call unrecorded).
   */
  timeline(): { silenceTimeoutMs?: number; maxDurationSec: number; mediaTimeoutMs: number } {
    const o = this.options;
    return {
      silenceTimeoutMs: o.end_of_silence ? o.end_of_silence * 1000 : undefined,
      maxDurationSec: Math.min(o.duration || Infinity, this.settings.maxDurationSec, wavMaxDurationSec(this.#format.sampleRate, this.#format.channels)),
      mediaTimeoutMs: this.settings.rtpTimeoutMs,
    };
  }

  /** The file's format (the spool's repair needs it too: a header lost to a crash is rebuilt from it). */
  get #format(): { sampleRate: 8000 | 16000; channels: 1 | 2 } {
    return { sampleRate: this.options.sample_rate ?? 8000, channels: this.options.channels ?? 1 };
  }

  /** Opens the mixer timeline at `startAtMs` (when the start was asked for): the file's duration counts from there. */
  async openMixer(startAtMs: number): Promise<void> {
    const opts = this.timeline();
    this.#startAtMs = startAtMs;
    await this.ports.mixer.open(this.id, {
      path: this.path,
      startAtMs,
      silenceTimeoutMs: opts.silenceTimeoutMs,
      maxDurationMs: opts.maxDurationSec * 1000,
      mediaTimeoutMs: opts.mediaTimeoutMs,
      ...this.#format,
    });
    this.#mixerOpen = true;
  }

  /** Stops the recording at the max duration after its timeline began, so the file is exactly that long. */
  #armMaxDuration(): number {
    const seconds = this.timeline().maxDurationSec;
    const endAt = this.#startAtMs + seconds * 1000;
    const t = setTimeout(() => void this.stop('max_duration', endAt).catch(() => undefined), Math.max(0, endAt - this.now()));
    t.unref();
    this.#timers.push(t);
    return seconds;
  }

  stop(reason: StopReason, atMs = this.now()): Promise<void> {
    // A reference that is gone (or a daemon going down, or an error) cuts a setup short; any other stop during setup
    // (silence counted from the start, a key, the API) lets it finish, so the recording starts, then stops normally.
    if (this.#settled || ABORTING_STOPS.has(reason)) this.#abort.abort();
    this.#end ??= this.#finish(reason, atMs);
    return this.#end;
  }

  fail(err: unknown): Promise<void> {
    this.#abort.abort();
    this.#end ??= this.#failNow(err);
    return this.#end;
  }

  async #teardownStreams(): Promise<void> {
    const results = await Promise.allSettled(
      [...this.#streams.values()].map(async (s) => {
        await this.ports.mixer.removeStream(this.id, s.streamId).catch(() => undefined);
        await closeStream(this.ports.ari, s);
      }),
    );
    this.#streams.clear();
    const undone = await Promise.allSettled(this.#cleanups.splice(0).map(async (c) => c()));
    for (const r of [...results, ...undone]) if (r.status === 'rejected') this.log.warn({ err: String(r.reason) }, 'recording cleanup incomplete');
  }

  async #finish(reason: StopReason, atMs: number): Promise<void> {
    this.#clearTimers();
    const setupOk = await this.#ready.then(
      () => true,
      () => false,
    );
    if (!setupOk || !this.#mixerOpen) return this.#failNow(new AppError('SETUP_FAILED', `recording ended (${reason}) before its setup completed`));
    try {
      // The audio is made safe first (file finalized, Asterisk cleaned up): that needs neither Redis nor storage.
      const endAt = Math.max(atMs, this.#startAtMs);
      const [, result] = await Promise.all([this.#teardownStreams(), this.#closeMixer(endAt)]);
      this.#mixerOpen = false;
      const patch: TransitionPatch = {
        stop_reason: reason,
        tm_end: new Date(endAt).toISOString(),
        ...(this.#pauses.length ? { pauses: this.#pausesAt(endAt) } : {}),
        duration_ms: result.durationMs,
        size_bytes: result.sizeBytes,
        no_audio: result.noAudio,
        quality: {
          packets_received: result.quality.packets_received,
          packets_lost: result.quality.packets_lost,
          packets_late: result.quality.packets_late,
          packets_foreign: result.quality.packets_foreign,
          max_jitter_ms: result.quality.max_jitter_ms,
          silence_ratio: result.quality.silence_ratio,
        },
      };
      this.log.info({ reason, duration_ms: result.durationMs, no_audio: result.noAudio }, 'recording stopped');
      this.ports.metrics?.recordingEnded(reason);
      if (result.quality.packets_foreign > 0) {
        this.log.warn({ packets_foreign: result.quality.packets_foreign }, 'RTP from unexpected sources was refused during the recording');
      }
      try {
        await this.#persistStop(patch);
      } catch (err) {
        if (!(isAppError(err) && err.code === 'store_unavailable')) throw err;
        // Redis is down: the finished file waits in the spool, and the hand-over is retried until Redis is back.
        this.log.warn('store unavailable at stop: the recording is finalized and will be handed over when Redis returns');
        void this.#persistLater(patch);
        throw err;
      }
    } catch (err) {
      this.log.error({ err, reason }, 'recording stop failed');
      throw err;
    } finally {
      this.#ended();
    }
  }

  /**
   * Finalizes the file. If the mixer cannot (its worker died), the spool file is repaired from its length instead:
   * the audio up to the last flush (≤ 1 s before the failure) is kept, never thrown away.
   */
  async #closeMixer(endAt: number): Promise<MixResult> {
    try {
      return await this.ports.mixer.close(this.id, endAt);
    } catch (err) {
      this.log.error({ err: String(err) }, 'mixer could not finalize the recording; repairing the spool file');
      const fixed = await this.ports.spool.repair(this.id, this.#format);
      const zero = { packets_received: 0, packets_lost: 0, packets_late: 0, max_jitter_ms: 0, silence_ratio: 0 };
      return {
        path: this.path,
        durationMs: fixed.durationMs,
        sizeBytes: fixed.sizeBytes,
        noAudio: false,
        quality: { ...zero, packets_duplicate: 0, packets_invalid: 0, packets_foreign: 0 },
      };
    }
  }

  /** stopping + metadata (its event goes with the transition), upload job. Safe to repeat (a second transition to stopping is refused and skipped). */
  async #persistStop(patch: TransitionPatch): Promise<void> {
    const { store, uploads } = this.ports;
    let rec = await store.get(this.id);
    if (rec && rec.status !== 'stopping') rec = await store.transition(this.id, 'stopping', patch);
    if (!rec) throw new AppError('RECORDING_NOT_FOUND', `recording ${this.id} vanished from the store`);
    let key: string;
    try {
      key = storageKey(rec);
    } catch (err) {
      // Never valid, never retried: the recording fails now with the code (the spool file stays for a human).
      if (!(isAppError(err) && err.code === 'invalid_storage_key')) throw err;
      await store.transition(this.id, 'failed', { error: { code: err.code, message: clientMessage(err) } });
      this.ports.metrics?.recordingFailed(err.code);
      return;
    }
    await uploads.enqueueUpload({ recording_id: this.id, storage_key: key });
  }

  async #persistLater(patch: TransitionPatch): Promise<void> {
    const err = await retryWhileStoreDown(() => this.#persistStop(patch), this.settings.storeRetry);
    if (err) this.log.error({ err }, 'recording hand-over failed; restart recovery will pick it up');
    else this.log.info('recording handed over after the store came back');
  }

  async #failNow(err: unknown): Promise<void> {
    this.#clearTimers();
    const code = isAppError(err) ? err.code : 'recording_setup_failed';
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ code, err: message }, 'recording failed');
    try {
      await this.#teardownStreams();
      if (this.#mixerOpen) {
        this.#mixerOpen = false;
        await this.ports.mixer.close(this.id, this.now()).catch(() => undefined);
      }
      await this.ports.spool.remove(this.id);
      const write = () => this.#recordFailure(code, err);
      await write().catch(async (e: unknown) => {
        if (!(isAppError(e) && e.code === 'store_unavailable')) throw e;
        // Redis is down: without the write the recording would stay active in Redis (and its call blocked) until a
        // restart. Retried in the background until Redis answers.
        this.log.warn('store unavailable: the failure will be recorded when Redis returns');
        void retryWhileStoreDown(write, this.settings.storeRetry).then((e2) => e2 && this.log.error({ err: e2 }, 'recording failure could not be recorded'));
      });
    } catch (e) {
      this.log.error({ err: e }, 'recording failure could not be recorded');
    } finally {
      this.#ended();
    }
  }

  /** `failed`, unless the recording already ended otherwise (another node's lost-node watch, a repeated write). */
  async #recordFailure(code: ErrorCode | 'recording_setup_failed', err: unknown): Promise<void> {
    try {
      await this.ports.store.transition(this.id, 'failed', { stop_reason: 'error', error: { code, message: clientMessage(err, 'the recording could not be set up') } });
      this.ports.metrics?.recordingFailed(code);
    } catch (e) {
      if (!(isAppError(e) && e.code === 'invalid_transition')) throw e;
    }
  }

  /** Tells the listeners once; one that throws is logged and the others still hear it. */
  #ended(): void {
    for (const l of this.#listeners.ended.splice(0)) {
      try {
        l(this);
      } catch (err) {
        this.log.error({ err: String(err), code: 'listener_failed' }, 'a listener of the recording end failed');
      }
    }
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }
}

const ABORTING_STOPS: ReadonlySet<StopReason> = new Set(['hangup', 'conference_end', 'shutdown', 'error']);

export function setupError(err: unknown): AppError {
  if (isAppError(err)) return err;
  return new AppError('SETUP_FAILED', err instanceof Error ? err.message : String(err));
}
