/**
 * MixerPool over real UDP with each RTP receive path: node:dgram and the native recvmmsg batch receiver.
 * The same scenarios as mixer-pool.test.ts (tones + spoofed source, loss/burst/reorder/duplicates, busy
 * ports, worker crash) must give the same results with both. When the addon is not built, the native
 * variant is SKIPPED with the reason in its name — never run on dgram under the native name.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { loadNativeUdp, nativeUdpUnavailableReason } from '../../src/media/native/index.js';
import { MixerPool } from '../../src/mixer/mixer-pool.js';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { sendRtpStream } from '../helpers/rtp-sender.js';
import { readWavFile } from '../helpers/wav-decode.js';

const built = loadNativeUdp() !== null;

/** Whether anyone can bind 127.0.0.1:port within a second (a dead worker's sockets close with its thread). */
async function bindableSoon(port: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const probe = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((r) => {
      probe.once('error', () => r(false));
      probe.bind({ port, address: '127.0.0.1', exclusive: true }, () => r(true));
    });
    await new Promise<void>((r) => probe.close(() => r()));
    if (bound) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
const dir = mkdtempSync(join(tmpdir(), 'native-rx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('receiver option', () => {
  it("'auto' uses the addon when it loads; 'native' without it is a VALIDATION error; 'dgram' always works", async () => {
    const auto = new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, statsIntervalMs: 0 });
    expect(auto.receiver).toBe(built ? 'native' : 'dgram');
    await auto.shutdown();
    const dg = new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, statsIntervalMs: 0, receiver: 'dgram' });
    expect(dg.receiver).toBe('dgram');
    await dg.shutdown();
    process.env.ARI_UDP_NATIVE = '0';
    try {
      const err = (() => {
        try {
          new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, receiver: 'native' });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).message).toMatch(/native UDP receiver is unavailable: disabled by ARI_UDP_NATIVE=0/);
      const lines: string[] = [];
      const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
      const fallback = new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, statsIntervalMs: 0, logger });
      expect(fallback.receiver).toBe('dgram');
      // The operator is told, once, that the capacity is about halved and why.
      const warn = lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }).filter((l) => l.level === 40);
      expect(warn).toHaveLength(1);
      expect(warn[0].msg).toMatch(/make native/);
      expect(warn[0].reason).toMatch(/ARI_UDP_NATIVE=0/);
      await fallback.shutdown();
    } finally {
      delete process.env.ARI_UDP_NATIVE;
    }
    expect(() => new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, receiverPollMs: 0 })).toThrow(/receiverPollMs/);
    for (const tickMs of [0, 30, 220]) expect(() => new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, tickMs })).toThrow(/tickMs/);
    // the ring must hold what arrives in the playout delay plus a tick
    expect(() => new MixerPool({ portMin: 1000, portMax: 1010, workers: 1, playoutDelayMs: 300, jitterSlots: 20, tickMs: 100 })).toThrow(/jitterSlots/);
  });
});

// The slot DSP: 'auto' is the addon's (and its slot player) when built; 'js' plays every slot in JS, the fallback.
const variants: ['dgram' | 'native', 'auto' | 'js', string][] = [
  ['dgram', 'auto', 'dgram'],
  ['dgram', 'js', 'dgram, JS slot DSP (no slot player)'],
  ['native', 'auto', built ? 'native (recvmmsg)' : `native — SKIPPED: addon unavailable (${nativeUdpUnavailableReason()})`],
];

describe.each(variants)('MixerPool receiver=%s dsp=%s', (receiver, dsp, title) => {
  const run = receiver === 'native' && !built ? describe.skip : describe;
  run(title, () => {
    const BASE = 30000 + 2 * Math.floor(Math.random() * 12000);
    let pool: MixerPool;
    const failed: string[] = [];

    beforeAll(async () => {
      pool = new MixerPool({ portMin: BASE, portMax: BASE + 99, workers: 2, bindAddress: '127.0.0.1', statsIntervalMs: 250, testHooks: true, receiver, dsp });
      pool.on('recordingFailed', (rid) => failed.push(rid));
      await pool.ready();
    });
    afterAll(async () => {
      await pool?.shutdown();
    });

    it('two tones, a spoofed source dropped, every counter exact', async () => {
      expect(pool.receiver).toBe(receiver);
      expect(pool.dsp).toBe(dsp === 'js' || !built ? 'js' : 'native');
      const rid = `two-${receiver}-${dsp}`;
      const path = join(dir, `${rid}.wav`);
      const startAt = Date.now();
      await pool.open(rid, { path, startAtMs: startAt });
      const a = await pool.addStream(rid, 'in');
      const b = await pool.addStream(rid, 'out');
      const [ra, rb] = await Promise.all([
        sendRtpStream({ port: a.port, toneHz: 440, durationMs: 2000, seed: 1, spoof: { toneHz: 2500, afterMs: 100 } }),
        sendRtpStream({ port: b.port, toneHz: 1000, durationMs: 2000, seed: 2, seqStart: 65500 }),
      ]);
      const endAt = Date.now();
      const stats = await pool.collectStats();
      const res = await pool.close(rid, endAt);
      expect(Math.abs(res.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
      expect(res.sizeBytes).toBe(statSync(path).size);
      expect(res.quality.packets_foreign).toBe(ra.spoofSent);
      expect(res.quality.packets_received).toBe(ra.sent + rb.sent);
      // None late, unless this busy test process itself sent some late (then at most those).
      expect(res.quality.packets_late).toBeLessThanOrEqual(ra.lateSends + rb.lateSends);
      expect(res.quality.packets_lost).toBe(0);
      expect(res.quality.packets_invalid).toBe(0);
      expect(res.quality.max_jitter_ms).toBeLessThan(20 + Math.max(ra.maxLateMs, rb.maxLateMs));
      const w = stats.workers[pool.workerOf(rid)]!;
      expect(w.receiver).toBe(receiver);
      // (receiverPolls is per stats window and may read 0 right after a window reset: the receiver kind and the
      // exact packet counts above are what prove the path.)
      const wav = readWavFile(path);
      const firstAudio = Math.round(((ra.firstSentAt - startAt) / 1000) * 8000);
      const mid = wav.samples.subarray(firstAudio + 2400, firstAudio + 2400 + 8000);
      expect(goertzelDb(mid, 8000, 440)).toBeGreaterThan(-14);
      expect(goertzelDb(mid, 8000, 1000)).toBeGreaterThan(-14);
      expect(goertzelDb(wav.samples, 8000, 2500)).toBeLessThan(-60);
      expect(pool.stats().ports.inUse).toBe(0);
    });

    it('loss, a 300 ms burst, reordering, duplicates and garbage datagrams', async () => {
      const rid = `impaired-${receiver}-${dsp}`;
      const path = join(dir, `${rid}.wav`);
      const startAt = Date.now();
      await pool.open(rid, { path, startAtMs: startAt });
      const a = await pool.addStream(rid, 'in');
      const junk = dgram.createSocket('udp4');
      const sendJunk = (buf: Uint8Array) => new Promise<void>((r) => junk.send(buf, a.port, '127.0.0.1', () => r()));
      const rp = sendRtpStream({ port: a.port, toneHz: 440, durationMs: 2000, seed: 3, loss: 0.05, lossBurst: { fromMs: 800, durationMs: 300 }, reorder: 0.05, dup: 0.03 });
      await new Promise((r) => setTimeout(r, 200));
      // Invalid datagrams: too short, RTP v1, and one longer than the native receive slot (truncated).
      await sendJunk(new Uint8Array(5));
      await sendJunk(Uint8Array.from([0x40, 118, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      await sendJunk(new Uint8Array(4000).fill(0x80));
      const r = await rp;
      junk.close();
      await new Promise((res) => setTimeout(res, 60));
      const endAt = Date.now();
      const res = await pool.close(rid, endAt);
      expect(Math.abs(res.durationMs - (endAt - startAt))).toBeLessThanOrEqual(40);
      expect(res.quality.packets_duplicate).toBe(r.duplicated);
      expect(res.quality.packets_late).toBeLessThanOrEqual(r.lateSends);
      expect(res.quality.packets_invalid).toBe(3);
      expect(res.quality.packets_received).toBe(r.sent + r.duplicated); // duplicates are received (and counted) too
      expect(res.quality.packets_lost).toBeGreaterThanOrEqual(r.dropped - 3);
      expect(res.quality.packets_lost).toBeLessThanOrEqual(r.dropped);
      const wav = readWavFile(path);
      const t0 = ((r.firstSentAt - startAt) / 1000) * 8000;
      const at = (ms: number, len: number) => wav.samples.subarray(Math.round(t0 + ms * 8), Math.round(t0 + (ms + len) * 8));
      expect(goertzelDb(at(860, 200), 8000, 440)).toBeLessThan(-60);
      expect(goertzelDb(at(400, 300), 8000, 440)).toBeGreaterThan(-20);
      expect(goertzelDb(at(1300, 300), 8000, 440)).toBeGreaterThan(-20);
    });

    it('skips a port owned by another process, PORTS_EXHAUSTED at the end, removeStream frees the port', async () => {
      const base = BASE + 1000;
      const small = new MixerPool({ portMin: base, portMax: base + 4, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0, receiver });
      const squatter = dgram.createSocket('udp4');
      await new Promise<void>((r) => squatter.bind(base, '127.0.0.1', () => r()));
      try {
        await small.open('r1', { path: join(dir, `r1-${receiver}-${dsp}.wav`), startAtMs: Date.now() });
        // ports are picked at random: whatever the order, the squatted one is skipped
        const s1 = (await small.addStream('r1', 's1')).port;
        const s2 = (await small.addStream('r1', 's2')).port;
        expect([s1, s2].sort()).toEqual([base + 2, base + 4]);
        const err = await small.addStream('r1', 's3').catch((e: unknown) => e);
        expect((err as AppError).code).toBe('rtp_ports_exhausted');
        await small.removeStream('r1', 's1');
        // The port is really unbound (not just back in the pool).
        const probe = dgram.createSocket('udp4');
        await new Promise<void>((r) => probe.bind({ port: s1, address: '127.0.0.1', exclusive: true }, () => r()));
        await new Promise<void>((r) => probe.close(() => r()));
        expect((await small.addStream('r1', 's4')).port).toBe(s1);
        const res = await small.close('r1', Date.now());
        expect(res.noAudio).toBe(true);
      } finally {
        squatter.close();
        await small.shutdown();
      }
    });

    it('streams that announce their source share one port per worker, told apart by source; a crash frees it', async () => {
      const r1 = `shared-a-${receiver}-${dsp}`;
      let r2 = `shared-b-${receiver}-${dsp}`;
      for (let i = 0; pool.workerOf(r2) !== pool.workerOf(r1); i++) r2 = `shared-b-${receiver}-${dsp}-${i}`;
      const startAt = Date.now();
      await pool.open(r1, { path: join(dir, `${r1}.wav`), startAtMs: startAt });
      await pool.open(r2, { path: join(dir, `${r2}.wav`), startAtMs: startAt });
      const inUse0 = pool.stats().ports.inUse;
      const a = await pool.addStream(r1, 'in', { awaitSource: true });
      const b = await pool.addStream(r1, 'out', { awaitSource: true });
      const c = await pool.addStream(r2, 'in', { awaitSource: true });
      if (receiver === 'dgram') {
        // node:dgram cannot tell streams apart before JS: a port each
        expect(new Set([a.port, b.port, c.port]).size).toBe(3);
      } else {
        expect(new Set([a.port, b.port, c.port]).size).toBe(1);
        expect(pool.stats().ports.inUse - inUse0).toBe(1);
      }
      const announce = (rid: string, sid: string) => (port: number) => pool.expectSource(rid, sid, { address: '127.0.0.1', port });
      const [ra, rb, rc] = await Promise.all([
        sendRtpStream({ port: a.port, toneHz: 440, durationMs: 1500, seed: 3, onBound: announce(r1, 'in'), spoof: { toneHz: 2500, afterMs: 100 } }),
        sendRtpStream({ port: b.port, toneHz: 1000, durationMs: 1500, seed: 4, onBound: announce(r1, 'out') }),
        sendRtpStream({ port: c.port, toneHz: 700, durationMs: 1500, seed: 5, onBound: announce(r2, 'in') }),
      ]);
      const endAt = Date.now();
      const [res1, res2] = await Promise.all([pool.close(r1, endAt), pool.close(r2, endAt)]);
      expect(res1.quality.packets_received).toBe(ra.sent + rb.sent);
      expect(res2.quality.packets_received).toBe(rc.sent);
      expect(res1.quality.packets_lost + res2.quality.packets_lost).toBe(0);
      // the spoof is r1's foreign packets on a port of its own; on the shared port it belongs to no recording
      expect(res1.quality.packets_foreign).toBe(receiver === 'dgram' ? ra.spoofSent : 0);
      const w1 = readWavFile(join(dir, `${r1}.wav`)).samples;
      const w2 = readWavFile(join(dir, `${r2}.wav`)).samples;
      expect(goertzelDb(w1, 8000, 440)).toBeGreaterThan(-20);
      expect(goertzelDb(w1, 8000, 1000)).toBeGreaterThan(-20);
      expect(goertzelDb(w1, 8000, 700)).toBeLessThan(-60);
      expect(goertzelDb(w1, 8000, 2500)).toBeLessThan(-60);
      expect(goertzelDb(w2, 8000, 700)).toBeGreaterThan(-20);
      expect(goertzelDb(w2, 8000, 440)).toBeLessThan(-60);
      if (receiver === 'dgram') return;
      // The shared socket outlives its streams (the next recordings use it), and goes with its worker.
      expect(pool.stats().ports.inUse - inUse0).toBe(1);
      const r3 = `shared-c-${receiver}-${dsp}`;
      await pool.open(r3, { path: join(dir, `${r3}.wav`), startAtMs: Date.now() });
      const d = await pool.addStream(r3, 'in', { awaitSource: true });
      const sameWorker = pool.workerOf(r3) === pool.workerOf(r1);
      const failedEvent = new Promise<string>((resolve) => pool.once('recordingFailed', (r: string) => resolve(r)));
      pool.crashWorker({ recordingId: r3 });
      expect(await failedEvent).toBe(r3);
      await pool.ready();
      // the crashed worker's shared port is back in the pool (r1's worker keeps its own, if it is another)
      expect(pool.stats().ports.inUse).toBe(inUse0 + (sameWorker ? 0 : 1));
      expect(await bindableSoon(d.port)).toBe(true);
      failed.splice(failed.indexOf(r3), 1);
    });

    it('a crashed worker releases its sockets (ports bindable again) and is replaced', async () => {
      const rid = `crash-${receiver}-${dsp}`;
      await pool.open(rid, { path: join(dir, `${rid}.wav`), startAtMs: Date.now() });
      const s = await pool.addStream(rid, 'in');
      const failedEvent = new Promise<string>((resolve) => pool.once('recordingFailed', (r: string) => resolve(r)));
      pool.crashWorker({ recordingId: rid });
      expect(await failedEvent).toBe(rid);
      await pool.ready();
      // The dead worker's socket was closed with its thread: the port can be bound by anyone.
      expect(await bindableSoon(s.port)).toBe(true);
      let id = `${rid}-again`;
      for (let i = 0; pool.workerOf(id) !== pool.workerOf(rid); i++) id = `${rid}-again-${i}`;
      await pool.open(id, { path: join(dir, `${id}.wav`), startAtMs: Date.now() });
      const s2 = await pool.addStream(id, 'in');
      await sendRtpStream({ port: s2.port, toneHz: 700, durationMs: 400 });
      const res = await pool.close(id, Date.now());
      expect(res.quality.packets_received).toBe(20);
      expect(failed).toEqual([rid]);
    });
  });
});

describe.skipIf(!built)(`shared sockets fill up${built ? '' : ' — SKIPPED: native addon unavailable'}`, () => {
  it('a socket holds at most sharedSocketStreams streams, also when starts come at once; then the next one opens', async () => {
    const BASE = 30000 + 2 * Math.floor(Math.random() * 12000);
    const pool = new MixerPool({ portMin: BASE, portMax: BASE + 40, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0, sharedSocketStreams: 2 });
    try {
      await pool.ready();
      await pool.open('fill', { path: join(dir, 'fill.wav'), startAtMs: Date.now() });
      const handles = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((sid) => pool.addStream('fill', sid, { awaitSource: true })));
      const perPort = new Map<number, number>();
      for (const h of handles) perPort.set(h.port, (perPort.get(h.port) ?? 0) + 1);
      expect([...perPort.values()].sort()).toEqual([1, 2, 2]);
      expect(pool.stats().ports.inUse).toBe(3);
      // a stream that leaves makes room on its socket for the next one
      const sidOfFull = ['a', 'b', 'c', 'd', 'e'].find((_, i) => perPort.get(handles[i].port) === 2)!;
      const port = handles[['a', 'b', 'c', 'd', 'e'].indexOf(sidOfFull)].port;
      await pool.removeStream('fill', sidOfFull);
      const single = [...perPort].find(([, n]) => n === 1)![0];
      const next = await pool.addStream('fill', 'f', { awaitSource: true });
      expect([port, single]).toContain(next.port);
      expect(pool.stats().ports.inUse).toBe(3);
      await pool.close('fill', Date.now());
    } finally {
      await pool.shutdown();
    }
    expect(pool.stats().ports.inUse).toBe(0);
  });
});

describe.skipIf(!built)(`a kernel that caps the shared buffer${built ? '' : ' — SKIPPED: native addon unavailable'}`, () => {
  it('below two streams of buffer, the pool warns once and gives every stream a port of its own', async () => {
    const BASE = 30000 + 2 * Math.floor(Math.random() * 12000);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    // as net.core.rmem_max = 208 KiB without CAP_NET_ADMIN: 416 KiB granted, one stream needs 512 KiB
    const pool = new MixerPool({ portMin: BASE, portMax: BASE + 40, workers: 1, bindAddress: '127.0.0.1', statsIntervalMs: 0, logger, testHooks: true, testRecvBufferCap: 416 * 1024 });
    try {
      await pool.ready();
      await pool.open('capped', { path: join(dir, 'capped.wav'), startAtMs: Date.now() });
      const a = await pool.addStream('capped', 'in', { awaitSource: true });
      const b = await pool.addStream('capped', 'out', { awaitSource: true });
      expect(a.port).not.toBe(b.port);
      expect(pool.stats().ports.inUse).toBe(2); // the shared socket's port was given back
      const warns = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warns).toHaveLength(1);
      expect(warns[0].msg).toMatch(/net\.core\.rmem_max/);
      // the streams work as before
      const r = await sendRtpStream({ port: a.port, toneHz: 440, durationMs: 400, onBound: (port) => pool.expectSource('capped', 'in', { address: '127.0.0.1', port }) });
      const res = await pool.close('capped', Date.now());
      expect(res.quality.packets_received).toBe(r.sent);
    } finally {
      await pool.shutdown();
    }
  });
});
