// Offline check of the finding in docs/performance.md: a reader (worker) stall longer than ~200 ms makes
// the JitterBuffer drop the packets read in the burst after it as EARLY (ring of 16 slots). `npx tsx bench/jitter-stall-sim.ts`
import { JitterBuffer } from '../src/media/jitter-buffer.js';
// One stream; packets sent every 20ms starting at send0; the reader (worker) is stalled in [stallFrom, stallTo):
// packets sent during a stall are read at stallTo. Playout: slot k played at startAt+(k+1)*20+100, but not during a stall
// (played at stallTo after reading, as the worker does).
function sim(send0: number, stalls: [number, number][], n = 500) {
  const jb = new JitterBuffer({ startAtMs: 0, capacity: 16 });
  const payload = new Uint8Array(652);
  const res: number[] = [];
  const readAt = (t: number) => { for (const [a, b] of stalls) if (t >= a && t < b) return b; return t; };
  const events: { t: number; kind: 0 | 1; i: number }[] = [];
  for (let i = 0; i < n; i++) events.push({ t: readAt(send0 + 20 * i), kind: 0, i });
  for (let k = 0; k < n + 60; k++) events.push({ t: readAt((k + 1) * 20 + 100), kind: 1, i: k });
  events.sort((x, y) => x.t - y.t || x.kind - y.kind);
  const played: number[] = [];
  for (const e of events) {
    if (e.kind === 0) res.push(jb.push((1000 + e.i) & 0xffff, 320 + 320 * e.i, 42, payload, 12, e.t));
    else played.push(jb.take(e.i) ? 1 : 0);
  }
  const s = jb.stats();
  const first = played.indexOf(1), last = played.lastIndexOf(1);
  const holes = played.slice(first, last + 1).filter((x) => x === 0).length;
  console.log(JSON.stringify({ stalls, late: s.late, early: s.early, overlap: s.overlap, reanchors: s.reanchors, firstSlot: first, lastSlot: last, audible: played.filter(x=>x).length, holes }));
}
sim(1000, []);
sim(1000, [[900, 1400]]);          // stall at the start, 500 ms
sim(1000, [[5000, 5300]]);         // 300 ms stall mid-stream
sim(1000, [[5000, 5500]]);         // 500 ms
sim(1000, [[5000, 5600], [5700, 6300]]);
