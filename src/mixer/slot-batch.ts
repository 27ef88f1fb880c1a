/**
 * One worker tick over all its recordings. With the native slot player, every plain two-party recording sits in the
 * player (it is the pipelines' PlayerSeat): ONE native call plays each one's due slot — take both frames, mix,
 * decimate, saturate into the WAV buffer — and does the slot's bookkeeping in its slot state (slot-state.ts), so JS
 * runs only for the few recordings with an event (a flush, a silence, a media timeout to check, a slot the player
 * cannot play) and for those not in the player, which play their slots with tick(). Without the player every
 * recording uses tick(). The files are the same either way (test/unit/mixer/slot-batch.test.ts compares them byte for
 * byte).
 */
import type { PlayerSeat, RecordingPipeline } from './recording-pipeline.js';

/** The player's calls (NativeUdp has them). */
export interface SlotPlayerKernel {
  playerAdd(slotState: Float64Array, hist: Float64Array, blockA: ArrayBuffer, blockB: ArrayBuffer): number;
  playerRemove(handle: number): void;
  playerSetOut(handle: number, out: Int16Array): void;
  playerTick(nowMs: number, events: Int32Array): number;
}

/** One per thread: the player's registrations are the thread's, and playerTick plays them all. */
export class SlotBatch implements PlayerSeat {
  /** events[0]: slots the player played; then [handle, SlotEvent bits] pairs. Holds 1 + 2 × the handles in use. */
  private events = new Int32Array(1 + 2 * 256);
  private readonly byHandle: (RecordingPipeline | undefined)[] = [];
  /** Recordings played by tick(): every one not in the player. */
  private readonly inJs = new Set<RecordingPipeline>();
  private readonly members = new Set<RecordingPipeline>();

  constructor(private readonly player: SlotPlayerKernel | null) {}

  /** The seat to give a pipeline (PipelineOptions.seat): null without the player. */
  get seat(): PlayerSeat | null {
    return this.player ? this : null;
  }

  /** A recording this batch ticks from now on (its pipeline joins the player itself once it is plain). */
  add(p: RecordingPipeline): void {
    this.members.add(p);
    if (p.playerHandle < 0) this.inJs.add(p);
  }

  /** No more ticks for it (it left the player when it finished or aborted). */
  delete(p: RecordingPipeline): void {
    this.members.delete(p);
    this.inJs.delete(p);
  }

  join(p: RecordingPipeline, state: Float64Array, hist: Float64Array, blockA: ArrayBuffer, blockB: ArrayBuffer): number {
    const h = this.player!.playerAdd(state, hist, blockA, blockB);
    if (1 + 2 * (h + 1) > this.events.length) this.events = new Int32Array(1 + 4 * (h + 1));
    this.byHandle[h] = p;
    this.inJs.delete(p);
    return h;
  }

  leave(p: RecordingPipeline, handle: number): void {
    this.player!.playerRemove(handle);
    this.byHandle[handle] = undefined;
    if (this.members.has(p)) this.inJs.add(p);
  }

  setOut(handle: number, out: Int16Array): void {
    this.player!.playerSetOut(handle, out);
  }

  /** Plays every slot due at `nowMs`; returns how many. A recording that throws goes to onError (the others go on). */
  tick(nowMs: number, onError: (p: RecordingPipeline, err: unknown) => void): number {
    let slots = 0;
    if (this.player) {
      const ev = this.events;
      const n = this.player.playerTick(nowMs, ev);
      slots += ev[0];
      for (let j = 0; j < n; j++) {
        const p = this.byHandle[ev[1 + 2 * j]]!;
        if (!this.members.has(p)) continue; // failed: it plays on until its abort leaves the player, unheard
        try {
          slots += p.playerEvents(ev[2 + 2 * j], nowMs);
        } catch (err) {
          onError(p, err);
        }
      }
    }
    for (const p of this.inJs) {
      try {
        slots += p.tick(nowMs);
      } catch (err) {
        onError(p, err);
      }
    }
    return slots;
  }
}
