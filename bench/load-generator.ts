/**
 * Load generator (child process of bench/run.ts): sends slin16 RTP like Asterisk's externalMedia
 * channels — RTP v2, PT 118, 640-byte big-endian payload every 20 ms, random SSRC and first seq,
 * timestamp starting at 320 and advancing by 320 — to many ports from a few real UDP sockets.
 *
 * Pacing: drift-free on performance.now(). The 20 ms tick is cut into `phases` sub-ticks; call c of
 * this process sends both of its packets in sub-tick (c mod phases), so the packets of a tick are spread
 * over the 20 ms instead of one microburst. A late sub-tick is sent late (catching up), never skipped:
 * every stream sends exactly `packets` packets. How late each sub-tick started and finished is measured
 * and reported, so the bench can tell whether the generator itself kept pace.
 *
 * Sending, native (default when the addon is built): each sub-tick's packets are written into one buffer and
 * sent with a single sendmmsg from a blocking socket, so the generator takes as little as possible of the CPU
 * it shares with the sidecar under test. node:dgram (fallback, --gen-sender dgram): one
 * `send([header, payload], port, host)` per packet (scatter/gather: a 12-byte header per stream, rewritten each
 * tick, and a shared precomputed payload); the socket's `lookup` is synchronous (the host is an IP literal) so
 * no DNS round-trip or nextTick per send.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../src/media/native/index.js';
import type { GenAdd, GenClose, GenDone, GenMessage, GenStart, GenStream } from './gen-protocol.js';
import { callSignals, PACKETS_PER_PERIOD, signalPayloads, type SignalSpec, SIGNAL_PAIRS } from './signals.js';

const send = (m: GenMessage): void => {
  process.send?.(m);
};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function bindSocket(host: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({
      type: 'udp4',
      sendBufferSize: 4 * 1024 * 1024,
      lookup: (address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, address, 4),
    } as dgram.SocketOptions);
    s.once('error', reject);
    s.bind(0, host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

async function run(cfg: GenStart): Promise<void> {
  const { streams, packets, phases, host } = cfg;
  if (cfg.nice) os.setPriority(cfg.nice);
  // Payload tables per signal.
  const payloads = new Map<string, Buffer[]>();
  const specOf = (call: number, dir: 'in' | 'out'): SignalSpec => callSignals(call)[dir];
  for (let m = 0; m < SIGNAL_PAIRS; m++) {
    payloads.set(`${m}:in`, signalPayloads(specOf(m, 'in')));
    payloads.set(`${m}:out`, signalPayloads(specOf(m, 'out')));
  }
  const native = cfg.sender === 'dgram' ? null : loadNativeUdp();
  if (cfg.sender === 'native' && !native) throw new Error(`--gen-sender native: ${nativeUdpUnavailableReason()}`);
  const socks: dgram.Socket[] = [];
  if (!native) for (let i = 0; i < Math.max(1, cfg.sockets); i++) socks.push(await bindSocket(host));
  if (cfg.sourcePort && !native) throw new Error('streams with their own source addresses need the native sender');
  // With sources: bound to any address, so that each datagram may leave from its stream's own 127/8 address.
  const fd = native ? (cfg.sourcePort ? native.senderOpen('0.0.0.0', 4 * 1024 * 1024, cfg.sourcePort) : native.senderOpen(host, 4 * 1024 * 1024)) : -1;
  let sendErrors = 0;
  for (const s of socks) s.on('error', () => sendErrors++);

  // Per-stream state, in flat arrays (they grow when streams are added during the run: --ramp).
  const hdr: Buffer[] = [];
  const table: Buffer[][] = [];
  const port: number[] = [];
  const source: number[] = [];
  const seq: number[] = [];
  /** the global tick of each stream's first packet (0 unless added later) */
  const startPkt: number[] = [];
  const sockOf: dgram.Socket[] = [];
  /** per stream: when its packet 0 went (or would have: a stream added late starts at a later packet), and which went first */
  const firstSend: number[] = [];
  const firstPacket: number[] = [];
  // Group streams by phase (both streams of a call in the same phase).
  // Calls are numbered locally (this process may hold every G-th call of the bench).
  const groups: number[][] = Array.from({ length: phases }, () => []);
  const localCall = new Map<number, number>();
  /** the tick after the last packet of every stream so far */
  let endPkt = 0;
  const DGRAM = 12 + 640;
  // Native: one datagram image per stream of the largest group, sent in one sendmmsg per sub-tick.
  let batch = new ArrayBuffer(0);
  let batchBytes = new Uint8Array(batch);
  let batchPorts = new Int32Array(0);
  let batchSources = new Uint32Array(0);
  const addStreams = (list: GenStream[]): void => {
    for (const st of list) {
      const i = hdr.length;
      const h = Buffer.alloc(12);
      h[0] = 0x80;
      h[1] = 118;
      h.writeUInt32BE(st.ssrc >>> 0, 8);
      hdr.push(h);
      table.push(payloads.get(`${st.call % SIGNAL_PAIRS}:${st.dir}`)!);
      port.push(st.port);
      source.push(st.source ?? 0);
      seq.push(st.seq & 0xffff);
      startPkt.push(st.startPkt ?? 0);
      firstSend.push(0);
      firstPacket.push(-1);
      if (!native) sockOf.push(socks[i % socks.length]);
      if (!localCall.has(st.call)) localCall.set(st.call, localCall.size);
      groups[localCall.get(st.call)! % phases].push(i);
      endPkt = Math.max(endPkt, (st.startPkt ?? 0) + packets);
    }
    const maxGroup = Math.max(0, ...groups.map((g) => g.length));
    if (maxGroup > batchPorts.length) {
      batch = new ArrayBuffer(maxGroup * DGRAM);
      batchBytes = new Uint8Array(batch);
      batchPorts = new Int32Array(maxGroup);
      batchSources = new Uint32Array(maxGroup);
    }
  };
  addStreams(streams);
  // --ramp: more streams come while it runs (`add`), until `close`; each starts at its startPkt.
  let closed = !cfg.open;
  process.on('message', (m: GenAdd | GenClose) => {
    if (m?.type === 'add') addStreams(m.streams);
    else if (m?.type === 'close') closed = true;
  });

  const subMs = 20 / phases;
  // Generators interleave: process g of G sends its sub-ticks offset by g/G of a sub-tick.
  const offsetMs = (cfg.index / Math.max(1, cfg.count)) * subMs;
  const epochOfPerf = (t: number): number => performance.timeOrigin + t;
  const t0 = cfg.startAtEpochMs - performance.timeOrigin + offsetMs;
  const startLate: number[] = [];
  const doneLate: number[] = [];
  let j = 0;
  let sent = 0;
  let maxQueue = 0;
  let lastSend = 0;

  send({ type: 'ready', index: cfg.index });
  // Wait for the common start.
  while (performance.now() < t0 - 2) await new Promise((r) => setTimeout(r, Math.max(1, t0 - performance.now() - 2)));
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();

  await new Promise<void>((resolve) => {
    const step = (): void => {
      let now = performance.now();
      while (j < endPkt * phases && t0 + j * subMs <= now + 0.05) {
        const sched = t0 + j * subMs;
        startLate.push(now - sched);
        const pkt = Math.floor(j / phases);
        const g = groups[j % phases];
        let q = 0;
        let firsts = 0;
        for (let x = 0; x < g.length; x++) {
          const i = g[x];
          const k = pkt - startPkt[i]; // this stream's own packet number
          if (k < 0 || k >= packets) continue;
          const h = hdr[i];
          const sq = (seq[i] + k) & 0xffff;
          h[2] = sq >> 8;
          h[3] = sq & 0xff;
          h.writeUInt32BE((320 + k * 320) >>> 0, 4);
          const payload = table[i][k % PACKETS_PER_PERIOD];
          if (native) {
            batchBytes.set(h, q * DGRAM);
            batchBytes.set(payload, q * DGRAM + 12);
            batchPorts[q] = port[i];
            batchSources[q] = source[i];
            if (firstPacket[i] < 0) firsts++;
            q++;
          } else {
            sockOf[i].send([h, payload], port[i], host);
            if (firstPacket[i] < 0) {
              firstPacket[i] = k;
              firstSend[i] = epochOfPerf(performance.now()) - 20 * k;
            }
            sent++;
          }
        }
        if (native && q > 0) {
          sent += cfg.sourcePort ? native.sendBatch(fd, batch, q, DGRAM, batchPorts, host, batchSources) : native.sendBatch(fd, batch, q, DGRAM, batchPorts, host);
          if (firsts > 0) {
            const at = epochOfPerf(performance.now());
            for (const i of g) {
              const k = pkt - startPkt[i];
              if (firstPacket[i] < 0 && k >= 0 && k < packets) {
                firstPacket[i] = k;
                firstSend[i] = at - 20 * k;
              }
            }
          }
        }
        now = performance.now();
        doneLate.push(now - sched);
        lastSend = now;
        j++;
      }
      if ((j & 63) === 0) for (const s of socks) maxQueue = Math.max(maxQueue, s.getSendQueueCount());
      if (closed && j >= endPkt * phases) {
        resolve();
        return;
      }
      // idle until the next sub-tick (or, with nothing scheduled yet, a little while: streams may be added)
      const next = j < endPkt * phases ? t0 + j * subMs : performance.now() + subMs;
      if (j >= endPkt * phases) j = Math.max(j, Math.ceil((performance.now() - t0) / subMs)); // no catching up on empty ticks
      setTimeout(step, Math.max(0, next - performance.now()));
    };
    step();
  });
  for (let w = 0; w < 200 && socks.some((s) => s.getSendQueueCount() > 0); w++) {
    for (const s of socks) maxQueue = Math.max(maxQueue, s.getSendQueueCount());
    await new Promise((r) => setTimeout(r, 5));
  }
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  for (const s of socks) s.close();
  if (native) native.senderClose(fd);

  const totalSub = doneLate.length;
  const sl = Float64Array.from(startLate).sort();
  const dl = Float64Array.from(doneLate).sort();
  let behind = 0;
  for (let k = 0; k < totalSub; k++) if (doneLate[k] > 20) behind++;
  const done: GenDone = {
    type: 'done',
    index: cfg.index,
    sender: native ? 'native' : 'dgram',
    sent,
    sendErrors,
    maxSendQueue: maxQueue,
    firstSendEpochMs: firstSend,
    firstPacket,
    lateness: {
      startP50: percentile(sl, 0.5),
      startP99: percentile(sl, 0.99),
      startMax: sl[sl.length - 1] ?? 0,
      doneP50: percentile(dl, 0.5),
      doneP99: percentile(dl, 0.99),
      doneMax: dl[dl.length - 1] ?? 0,
      behind20ms: behind,
      subTicks: totalSub,
    },
    wallMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    lastSendEpochMs: epochOfPerf(lastSend),
    scheduledEndEpochMs: epochOfPerf(t0 + (endPkt * phases - 1) * subMs),
  };
  send(done);
}

send({ type: 'up' });
process.on('message', (m: GenStart) => {
  if (m?.type !== 'start') return;
  run(m).then(
    () => process.disconnect?.(),
    (err: unknown) => {
      send({ type: 'error', index: m.index, message: String((err as Error)?.stack ?? err) });
      process.disconnect?.();
    },
  );
});
