/**
 * A recording's slot bookkeeping as 24 doubles (three cache lines), shared by the JS playout and the native slot
 * player (src/media/native/player.c, which defines the same indices): the player plays a plain two-party slot and does
 * its bookkeeping — timeline, WAV buffer cursor, flush phase, silence count, media-timeout bound — without entering JS,
 * and hands JS only the slots' events (a flush, a silence, a possible media timeout, a slot it cannot play).
 * Line 0 holds what every tick reads; line 1 the silence and media-timeout state; line 2 the WAV writer's cursor.
 */
export const SLOT = {
  nextSlot: 0,
  endSlot: 1,
  startAtMs: 2,
  playoutDelayMs: 3,
  flushEvery: 4,
  flushPhase: 5,
  /** the due limit at the last tick (a backlogged writer gets only what fell due since: CATCH_UP_MAX_BACKLOG) */
  lastDue: 6,
  /** 1 while the writer has CATCH_UP_MAX_BACKLOG flushes or more not yet on the disk (the JS mirrors it) */
  backlogged: 7,
  // line 1
  silenceThresholdRms: 8,
  silenceTimeoutMs: 9,
  silenceTotal: 10,
  silenceSilent: 11,
  silenceRun: 12,
  silenceReported: 13,
  mediaTimeoutMs: 14,
  lastPacketBoundMs: 15,
  // line 2: the WAV writer's cursor (WavWriter.shareCursor): bytes buffered, and how far in-place writes may fill
  cursor: 16,
  mediaTimeoutReported: 18,
} as const;

export const SLOT_STATE_DOUBLES = 24;

/** The player's events for a recording after a tick (bits of its entry; player.c's EV_*). */
export const SlotEvent = {
  /** Slots due that the player left: no room in the buffer's rest, or after a slot with an event (tick() plays them). */
  playInJs: 1,
  /** The WAV buffer is full, or the slot was the flush phase's. */
  flush: 2,
  /** The mix has been silent for the silence timeout (first time in this run). */
  silence: 4,
  /** No packet for the media timeout by the bound: read the streams. */
  mediaTimeout: 8,
} as const;
