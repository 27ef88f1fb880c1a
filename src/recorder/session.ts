import { AppError, clientMessage, isAppError } from '../domain/errors.js';
import type { RecordingOptions, ReferenceType, StopReason } from '../domain/recording.js';
import { storageKey } from '../domain/storage-key.js';
import type { Logger } from '../logger.js';
import type { MixResult } from '../mixer/types.js';
import { closeStream, type CapturedStream } from './capture.js';
import type { TransitionPatch } from '../store/types.js';
import type { RecorderPorts, RecorderSettings } from './ports.js';

/**
 * One live recording: the ARI objects and mixer streams it owns, its timers, and the one way it ends.
 * `stop()` and `fail()` are idempotent and share one promise: whatever ends the recording first wins
 * (API, flow, hangup, key, silence, max duration, shutdown), the rest wait for the same outcome.
 */
export class RecordingSession {
  readonly streams = new Map<string, CapturedStream>();
  /** Conference participants recorded through their own snoop: channel id → stream tag. */
  readonly participants = new Map<string, string>();
  #nextParticipant = 0;
  /** Extra undo steps run at teardown (e.g. an ARI event subscription). */
  readonly cleanups: Array<() => Promise<unknown>> = [];
  readonly path: string;
  readonly log: Logger;
  /** Set once setup has finished (successfully or not); stop waits for it. */
  ready: Promise<void> = Promise.resolve();
  /** Aborted when the recording ends, so a setup still waiting on Asterisk gives up at once. */
  readonly abort = new AbortController();
  startAtMs = 0;
  #end?: Promise<void>;
  #timers: NodeJS.Timeout[] = [];
  #mixerOpen = false;

  constructor(
    readonly id: string,
    readonly referenceType: ReferenceType,
    readonly referenceId: string,
    readonly customerId: string,
    readonly options: RecordingOptions,
    private readonly ports: RecorderPorts,
    _settings: RecorderSettings,
    private readonly onEnded: (s: RecordingSession) => void,
  ) {
    this.path = ports.spool.pathOf(id);
    this.log = ports.logger.child({ recording_id: id, [`${referenceType}_id`]: referenceId });
  }

  nextParticipantTag(): string {
    return `p${this.#nextParticipant++}`;
  }

  get ending(): boolean {
    return this.#end !== undefined;
  }

  now(): number {
    return this.ports.now?.() ?? Date.now();
  }

  /** Opens the mixer timeline at `startAtMs` (when the start was asked for): the file's duration counts from there. */
  async openMixer(startAtMs: number, opts: { silenceTimeoutMs?: number; maxDurationSec: number; mediaTimeoutMs: number }): Promise<void> {
    this.startAtMs = startAtMs;
    await this.ports.mixer.open(this.id, {
      path: this.path,
      startAtMs,
      silenceTimeoutMs: opts.silenceTimeoutMs,
      maxDurationMs: opts.maxDurationSec * 1000,
      mediaTimeoutMs: opts.mediaTimeoutMs,
    });
    this.#mixerOpen = true;
  }

  /** Stops the recording `seconds` after its timeline began (the max duration), so the file is exactly that long. */
  armMaxDuration(seconds: number): void {
    const endAt = this.startAtMs + seconds * 1000;
    const t = setTimeout(() => void this.stop('max_duration', endAt).catch(() => undefined), Math.max(0, endAt - this.now()));
    t.unref();
    this.#timers.push(t);
  }

  stop(reason: StopReason, atMs = this.now()): Promise<void> {
    this.abort.abort();
    this.#end ??= this.#finish(reason, atMs);
    return this.#end;
  }

  fail(err: unknown): Promise<void> {
    this.abort.abort();
    this.#end ??= this.#abort(err);
    return this.#end;
  }

  async #teardownStreams(): Promise<void> {
    const results = await Promise.allSettled(
      [...this.streams.values()].map(async (s) => {
        await this.ports.mixer.removeStream(this.id, s.streamId).catch(() => undefined);
        await closeStream(this.ports.ari, s);
      }),
    );
    this.streams.clear();
    this.participants.clear();
    const undone = await Promise.allSettled(this.cleanups.splice(0).map((c) => c()));
    for (const r of [...results, ...undone]) if (r.status === 'rejected') this.log.warn({ err: String(r.reason) }, 'recording cleanup incomplete');
  }

  async #finish(reason: StopReason, atMs: number): Promise<void> {
    this.#clearTimers();
    const setupOk = await this.ready.then(
      () => true,
      () => false,
    );
    if (!setupOk || !this.#mixerOpen) return this.#abort(new AppError('SETUP_FAILED', `recording ended (${reason}) before its setup completed`));
    try {
      // The audio is made safe first (file finalized, Asterisk cleaned up): that needs neither Redis nor storage.
      const endAt = Math.max(atMs, this.startAtMs);
      const [, result] = await Promise.all([this.#teardownStreams(), this.#closeMixer(endAt)]);
      this.#mixerOpen = false;
      const patch: TransitionPatch = {
        stop_reason: reason,
        tm_end: new Date(endAt).toISOString(),
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
      this.onEnded(this);
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
      const fixed = await this.ports.spool.repair(this.id);
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

  /** stopping + metadata, upload job, webhook. Safe to repeat (a second transition to stopping is refused and skipped). */
  async #persistStop(patch: TransitionPatch): Promise<void> {
    const { store, uploads, webhooks } = this.ports;
    let rec = await store.get(this.id);
    if (rec && rec.status !== 'stopping') rec = await store.transition(this.id, 'stopping', patch);
    if (!rec) throw new AppError('RECORDING_NOT_FOUND', `recording ${this.id} vanished from the store`);
    let key: string;
    try {
      key = storageKey(rec);
    } catch (err) {
      // Never valid, never retried: the recording fails now with the code (the spool file stays for a human).
      if (!(isAppError(err) && err.code === 'invalid_storage_key')) throw err;
      const failed = await store.transition(this.id, 'failed', { error: { code: err.code, message: clientMessage(err) } });
      await webhooks.publish('recording_failed', failed).catch((e: unknown) => this.log.error({ err: e }, 'webhook enqueue failed'));
      return;
    }
    await uploads.enqueueUpload({ recording_id: this.id, storage_key: key });
    await webhooks.publish('recording_finished', rec).catch((err: unknown) => this.log.error({ err }, 'webhook enqueue failed'));
  }

  async #persistLater(patch: TransitionPatch): Promise<void> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 30_000)) {
      await new Promise((r) => setTimeout(r, delay).unref());
      try {
        await this.#persistStop(patch);
        this.log.info('recording handed over after the store came back');
        return;
      } catch (err) {
        if (!(isAppError(err) && err.code === 'store_unavailable')) {
          this.log.error({ err }, 'recording hand-over failed; restart recovery will pick it up');
          return;
        }
      }
    }
  }

  async #abort(err: unknown): Promise<void> {
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
      const rec = await this.ports.store.transition(this.id, 'failed', { stop_reason: 'error', error: { code, message: clientMessage(err, 'the recording could not be set up') } });
      await this.ports.webhooks.publish('recording_failed', rec).catch(() => undefined);
    } catch (e) {
      this.log.error({ err: e }, 'recording failure could not be recorded');
    } finally {
      this.onEnded(this);
    }
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }
}

export function setupError(err: unknown): AppError {
  if (isAppError(err)) return err;
  return new AppError('SETUP_FAILED', err instanceof Error ? err.message : String(err));
}
