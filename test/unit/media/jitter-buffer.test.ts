import { describe, expect, it } from 'vitest';
import { JitterBuffer, Push } from '../../../src/media/jitter-buffer.js';
import { prng } from '../../helpers/rtp-sender.js';

/** A packet whose payload carries `id` in its first sample (big-endian). */
interface P {
  seq: number;
  ts: number;
  ssrc: number;
  arrival: number;
  id: number;
}

function payloadOf(id: number): Uint8Array {
  const b = new Uint8Array(640);
  b[0] = (id >> 8) & 0xff;
  b[1] = id & 0xff;
  b[2] = 0x12; // second sample 0x1234, checks the byte order
  b[3] = 0x34;
  return b;
}

/** A regular stream: packet i arrives at t0 + 20·i + offset, seq/ts as Asterisk sends them. */
function stream(n: number, o: { seq0?: number; ts0?: number; ssrc?: number; t0?: number; idBase?: number } = {}): P[] {
  const out: P[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      seq: ((o.seq0 ?? 1000) + i) & 0xffff,
      ts: ((o.ts0 ?? 320) + 320 * i) >>> 0,
      ssrc: o.ssrc ?? 0x1234,
      arrival: (o.t0 ?? 5) + 20 * i,
      id: (o.idBase ?? 1) + i,
    });
  }
  return out;
}

/** Feeds packets in arrival order while playing out due slots (playout delay), then flushes to endAt. */
function run(packets: P[], o: { delay?: number; endAt?: number; startAt?: number; capacity?: number } = {}) {
  const startAt = o.startAt ?? 0;
  const delay = o.delay ?? 100;
  const jb = new JitterBuffer({ startAtMs: startAt, capacity: o.capacity });
  const slots: (number | null)[] = [];
  const results: number[] = [];
  let next = 0;
  const play = (k: number) => {
    const f = jb.take(k);
    if (f) expect(f[1]).toBe(0x1234);
    slots.push(f ? f[0] : null);
  };
  const sorted = packets.map((p, i) => ({ p, i })).sort((a, b) => a.p.arrival - b.p.arrival || a.i - b.i);
  for (const { p } of sorted) {
    while (startAt + (next + 1) * 20 + delay <= p.arrival) play(next++);
    results.push(jb.push(p.seq, p.ts, p.ssrc, payloadOf(p.id), 0, p.arrival));
  }
  const endAt = o.endAt ?? (packets.length ? Math.max(...packets.map((p) => p.arrival)) + 20 : 0);
  const endSlot = Math.round((endAt - startAt) / 20);
  while (next < endSlot) play(next++);
  return { jb, slots, results, stats: jb.stats() };
}

const ids = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('JitterBuffer', () => {
  it('places an in-order stream on consecutive slots from its arrival slot', () => {
    const { slots, stats } = run(stream(50, { t0: 45 }), { endAt: 45 + 50 * 20 });
    expect(slots.slice(0, 2)).toEqual([null, null]);
    expect(slots.slice(2, 52)).toEqual(ids(1, 50));
    expect(stats).toMatchObject({ received: 50, lost: 0, late: 0, duplicate: 0, reanchors: 0 });
  });

  it('handles 16-bit sequence and 32-bit timestamp wrap-around', () => {
    const pk = stream(100, { seq0: 65500, ts0: 0xffffffff - 320 * 40 });
    const { slots, stats } = run(pk);
    expect(slots.filter((s) => s !== null)).toEqual(ids(1, 100));
    expect(slots.indexOf(1)).toBe(0);
    expect(slots[99]).toBe(100);
    expect(stats.lost).toBe(0);
    expect(stats.maxJitterMs).toBeLessThan(0.01);
  });

  it('puts reordered packets back in order', () => {
    const pk = stream(100);
    for (let i = 10; i < 90; i += 7) pk[i].arrival += 30; // arrives after the next one (and the one after)
    const { slots, stats } = run(pk);
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(stats.late).toBe(0);
    expect(stats.lost).toBe(0);
    expect(stats.maxJitterMs).toBeGreaterThan(0.5);
  });

  it('drops duplicates and counts them', () => {
    const pk = stream(100);
    const dups = pk.filter((_, i) => i % 10 === 3).map((p) => ({ ...p, arrival: p.arrival + 3 }));
    const { slots, stats, results } = run([...pk, ...dups]);
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(stats.duplicate).toBe(10);
    expect(stats.lost).toBe(0);
    expect(results.filter((r) => r === Push.DUPLICATE)).toHaveLength(10);
  });

  it('turns 5 % random loss into silence in the right slots', () => {
    const rnd = prng(42);
    const all = stream(500);
    const kept = all.filter((p, i) => i === 0 || rnd() >= 0.05);
    const lost = all.length - kept.length;
    expect(lost).toBeGreaterThan(10);
    const { slots, stats } = run(kept, { endAt: 5 + 500 * 20 });
    expect(slots).toHaveLength(500);
    const keptIds = new Set(kept.map((p) => p.id));
    expect(slots).toEqual(all.map((p) => (keptIds.has(p.id) ? p.id : null)));
    // Losses after the last received packet are invisible to sequence numbers (as in RFC 3550).
    const lastKept = kept[kept.length - 1].id;
    expect(stats.lost).toBe(all.filter((p) => p.id < lastKept && !keptIds.has(p.id)).length);
    expect(stats.reanchors).toBe(0);
  });

  it('keeps the timeline through a 1 s loss burst', () => {
    const all = stream(200);
    const kept = all.filter((_, i) => i < 50 || i >= 100);
    const { slots, stats } = run(kept, { endAt: 5 + 200 * 20 });
    expect(slots).toHaveLength(200);
    expect(slots.slice(0, 50)).toEqual(ids(1, 50));
    expect(slots.slice(50, 100)).toEqual(new Array(50).fill(null));
    expect(slots.slice(100, 200)).toEqual(ids(101, 200));
    expect(stats.lost).toBe(50);
    expect(stats.reanchors).toBe(0);
  });

  it('continues on an SSRC change, re-anchored by arrival', () => {
    const a = stream(100, { ssrc: 1, seq0: 40000 });
    // New SSRC (transfer): new random seq, timestamp restarts at 320, arrival continues.
    const b = stream(100, { ssrc: 2, seq0: 7, ts0: 320, t0: 5 + 100 * 20, idBase: 101 });
    const { slots, stats } = run([...a, ...b]);
    // the new SSRC takes over at its third packet (SSRC_CONFIRM), placed by its arrival; its first two are dropped
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(slots.slice(100, 102)).toEqual([null, null]);
    expect(slots.slice(102, 200)).toEqual(ids(103, 200));
    expect(stats.ssrcChanges).toBe(1);
    expect(stats.late).toBe(2);
    expect(stats.lost).toBe(0);
    // A straggler of the old SSRC after the switch is dropped as late.
    const late = { ...a[99], arrival: b[5].arrival + 1, id: 999 };
    const r = run([...a, ...b, late]);
    expect(r.slots).not.toContain(999);
    expect(r.stats.late).toBe(3);
    expect(r.stats.ssrcChanges).toBe(1);
  });

  it('one packet of another SSRC (a straggler, or spoofed from the accepted source) neither re-anchors nor silences the stream', () => {
    const a = stream(200, { ssrc: 1, seq0: 100 });
    const spoofed = { ...a[50], ssrc: 0xdead, seq: 9, arrival: a[50].arrival + 3, id: 777 };
    const { slots, stats } = run([...a, spoofed]);
    expect(slots.slice(0, 200)).toEqual(ids(1, 200)); // every packet of the stream played (it used to lose all after)
    expect(stats).toMatchObject({ ssrcChanges: 0, reanchors: 0, late: 1 });
    // two of one SSRC, then another's: no run of SSRC_CONFIRM within SSRC_CONFIRM_FRAMES, nothing switches
    const scattered = [0, 40, 80].map((k, i) => ({ ...a[k], ssrc: 0xbeef, seq: i, arrival: a[k].arrival + 5, id: 800 + i }));
    expect(run([...a, ...scattered]).stats).toMatchObject({ ssrcChanges: 0, late: 3 });
  });

  it('A → B → A: each SSRC takes the stream back after its third packet; nothing is silenced for good', () => {
    const a1 = stream(100, { ssrc: 1, seq0: 500 });
    const b = stream(100, { ssrc: 2, seq0: 7, ts0: 320, t0: 5 + 100 * 20, idBase: 101 });
    const a2 = stream(100, { ssrc: 1, seq0: 30000, t0: 5 + 200 * 20, idBase: 201 });
    const { slots, stats } = run([...a1, ...b, ...a2]);
    expect(stats.ssrcChanges).toBe(2);
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(slots.slice(102, 200)).toEqual(ids(103, 200));
    expect(slots.slice(202, 300)).toEqual(ids(203, 300));
  });

  it('does not tear the timeline on a +1088 timestamp jump with contiguous seq', () => {
    const pk = stream(150);
    for (let i = 60; i < 150; i++) pk[i].ts += 1088 - 320; // one jump at packet 60, then +320 again
    // The stall: packet 60 and later arrive 48 ms later than the regular schedule.
    for (let i = 60; i < 150; i++) pk[i].arrival += 48;
    const { slots, stats } = run(pk);
    const played = slots.filter((s) => s !== null);
    expect(played).toEqual(ids(1, 150)); // every frame, in order, nothing dropped
    expect(slots.slice(0, 150)).toEqual(ids(1, 150)); // contiguous: no hole in the middle of the audio
    expect(stats.late).toBe(0);
    expect(stats.reanchors).toBe(0);
    expect(stats.lost).toBe(0);
  });

  it('accepts a stall followed by a burst (late packets caught up within the playout delay)', () => {
    const pk = stream(100);
    for (let i = 40; i < 44; i++) pk[i].arrival = pk[44].arrival - 0.1 * (44 - i); // 4 packets delayed ~80 ms, then a burst
    const { slots, stats } = run(pk);
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(stats.late).toBe(0);
  });

  it('drops packets that arrive after their slot was played, as late', () => {
    const pk = stream(100);
    pk[30].arrival += 300;
    pk[31].arrival += 300;
    const { slots, stats } = run(pk);
    expect(slots[30]).toBeNull();
    expect(slots[31]).toBeNull();
    expect(slots[32]).toBe(33);
    expect(stats.late).toBe(2);
    expect(stats.lost).toBe(0); // received, just too late
  });

  it('re-anchors when the sender falls behind for a sustained period', () => {
    // The sender loses 200 ms (10 frames) without sequence gap and never catches up.
    const pk = stream(300);
    for (let i = 100; i < 300; i++) pk[i].arrival += 200;
    const { slots, stats } = run(pk, { endAt: 5 + 300 * 20 + 200 });
    expect(stats.reanchors).toBe(1);
    // Before the re-anchor some packets arrive too late for their seq-mapped slot; after it, none.
    const lastLateId = Math.max(...slots.map((s, k) => (s === null ? -1 : k)));
    expect(lastLateId).toBe(slots.length - 1);
    const tail = slots.slice(-150);
    expect(tail.every((s) => s !== null)).toBe(true);
    // The audio of the tail is placed where it arrived (10 slots later than its seq alone would say).
    expect(slots.indexOf(300)).toBe(299 + 10);
    expect(slots.length).toBe(310);
  });

  it('re-anchors when the anchor packet itself was very late (packets mapped into the future)', () => {
    const pk = stream(200);
    // The first 8 packets are held ~150 ms in the network and arrive in one burst: the anchor (packet 0)
    // lands 8 slots late, so the following packets map 8 slots into the future.
    for (let i = 0; i < 8; i++) pk[i].arrival = 160 + 0.1 * i;
    const { slots, stats } = run(pk);
    expect(stats.reanchors).toBe(1);
    expect(stats.overlap).toBeGreaterThan(0); // catching up costs the overlapping frames
    expect(slots.indexOf(200)).toBe(199);
    expect(slots.slice(100, 200)).toEqual(ids(101, 200));
  });

  it('counts packets mapped before the recording start separately', () => {
    const pk = stream(20, { t0: -100 });
    const { stats, slots } = run(pk, { endAt: 300 });
    expect(stats.beforeStart).toBe(5);
    expect(slots[0]).toBe(6);
  });

  it('measures RFC 3550 jitter in ms', () => {
    const rnd = prng(7);
    const pk = stream(500).map((p) => ({ ...p, arrival: p.arrival + rnd() * 10 }));
    const { stats } = run(pk);
    // Uniform 0–10 ms delay: mean |D| ≈ 3.3 ms.
    expect(stats.maxJitterMs).toBeGreaterThan(2);
    expect(stats.maxJitterMs).toBeLessThan(6);
    expect(stats.late).toBe(0);
  });

  it('restarts on a huge sequence jump within the same SSRC', () => {
    const a = stream(50, { seq0: 100 });
    const b = stream(50, { seq0: 30000, t0: 5 + 50 * 20, idBase: 51, ts0: 320 + 50 * 320 });
    const { slots, stats } = run([...a, ...b]);
    expect(slots.slice(0, 100)).toEqual(ids(1, 100));
    expect(stats.reanchors).toBe(1);
    expect(stats.lost).toBe(0);
  });

  it('holds a fixed ring: far-future packets are refused as early', () => {
    const jb = new JitterBuffer({ startAtMs: 0, capacity: 16 });
    expect(jb.push(10, 320, 1, payloadOf(1), 0, 5)).toBe(Push.ACCEPTED);
    expect(jb.push(10 + 16, 320 * 17, 1, payloadOf(2), 0, 6)).toBe(Push.EARLY);
    expect(jb.push(10 + 15, 320 * 16, 1, payloadOf(3), 0, 7)).toBe(Push.ACCEPTED);
    expect(jb.stats().early).toBe(1);
  });
});
