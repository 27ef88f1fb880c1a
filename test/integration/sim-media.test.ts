/**
 * The simulator's RTP against what ../shared/asterisk/rtp/README.md says Asterisk 22 sends: real UDP, PT 118,
 * 640-byte big-endian payloads, seq +1 from a random start, timestamps 320, 640…, one SSRC, 20 ms pace.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AriSimulator } from '../sim/index.js';
import { type AriTestClient, type EventCollector, startSimSession, stopSimSession, RtpCapture, concatSamples, isEvent, peak, sleep, toneAmplitude } from '../sim/harness.js';
import { startRecordingLeg } from '../sim/scenario.js';

let sim: AriSimulator;
let ari: AriTestClient;
let events: EventCollector;
const captures: RtpCapture[] = [];

async function capture(): Promise<RtpCapture> {
  const c = await RtpCapture.open();
  captures.push(c);
  return c;
}

beforeAll(async () => {
  ({ sim, ari, events } = await startSimSession({ audioDelayMs: 200 }));
});
afterEach(() => {
  sim.setImpairments(null);
  for (const c of captures.splice(0)) c.close();
});
afterAll(() => stopSimSession({ sim, events }));

describe('RTP format and pace', () => {
  it('matches the captured Asterisk stream: header, size, byte order, pace without drift, leading zeros', async () => {
    // the dialplan audio starts only when the test says so: the snoop sends zeros until then
    const call = await sim.placeCall({ exten: 'tone440', inSignal: null });
    const rx = await capture();
    const leg = await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rx.port });
    await rx.waitForPackets(10);
    sim.playTone(call, 'in', { type: 'tone', freq: 440 });
    const pkts = (await rx.waitForPackets(100)).slice(0, 100);
    // header
    expect(pkts.every((p) => p.version === 2 && p.payloadType === 118 && !p.marker && p.csrcCount === 0 && !p.extension)).toBe(true);
    expect(pkts.every((p) => p.payload.length === 640)).toBe(true);
    expect(new Set(pkts.map((p) => p.ssrc)).size).toBe(1);
    expect(pkts[0].timestamp).toBe(320);
    for (let i = 1; i < pkts.length; i++) {
      expect((pkts[i].seq - pkts[i - 1].seq) & 0xffff).toBe(1);
      expect(pkts[i].timestamp - pkts[i - 1].timestamp).toBe(320);
    }
    // sent from the channel's UNICASTRTP_LOCAL_PORT
    expect(String(pkts[0].sourcePort)).toBe(leg.em.channelvars?.UNICASTRTP_LOCAL_PORT);
    // pace: packet n is due at t0 + n × 20 ms (drift-free schedule). A packet can arrive late (the receiver
    // shares this busy process) but never early, so look at the lower envelope of arrival − n × 20 ms: it must
    // stay flat from the first packets to the last (no drift), and most packets must be close to it.
    const off = pkts.map((p, i) => Number(p.atNs - pkts[0].atNs) / 1e6 - i * 20);
    const base = Math.min(...off);
    const envStart = Math.min(...off.slice(0, 20)) - base;
    const envEnd = Math.min(...off.slice(-20)) - base;
    expect(Math.abs(envEnd - envStart)).toBeLessThan(8);
    expect(off.filter((o) => o - base < 10).length).toBeGreaterThan(pkts.length / 2);
    // zeros before the dialplan audio starts, then 440 Hz big-endian at ≈ 8190 peak
    const firstAudio = pkts.findIndex((p) => !p.payload.every((b) => b === 0));
    expect(firstAudio).toBeGreaterThanOrEqual(10);
    expect(pkts.slice(firstAudio).every((p) => !p.payload.every((b) => b === 0))).toBe(true);
    const audio = concatSamples(pkts.slice(firstAudio + 1));
    expect(peak(audio)).toBeGreaterThan(8100);
    expect(peak(audio)).toBeLessThanOrEqual(8190);
    expect(toneAmplitude(audio, 440, 16000)).toBeGreaterThan(7500);
    expect(toneAmplitude(audio, 1000, 16000)).toBeLessThan(50);
    await sim.hangup(call);
  });

  it('snoop in / out / both carry the right directions; the stream stops when the call hangs up', async () => {
    const call = await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 });
    await ari.request('POST', `/channels/${call}/play`, { media: 'sound:tone1000' });
    const [rin, rout, rboth] = [await capture(), await capture(), await capture()];
    const legIn = await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rin.port });
    await startRecordingLeg(ari, events, { callId: call, spy: 'out', rtpPort: rout.port });
    await startRecordingLeg(ari, events, { callId: call, spy: 'both', rtpPort: rboth.port });
    await rboth.waitForPackets(30);
    await rin.waitForPackets(30);
    await rout.waitForPackets(30);
    const a = (c: RtpCapture, f: number) => toneAmplitude(concatSamples(c.packets.slice(5, 30)), f, 16000);
    expect(a(rin, 440)).toBeGreaterThan(7500);
    expect(a(rin, 1000)).toBeLessThan(100);
    expect(a(rout, 1000)).toBeGreaterThan(7500);
    expect(a(rout, 440)).toBeLessThan(100);
    expect(a(rboth, 440)).toBeGreaterThan(7500);
    expect(a(rboth, 1000)).toBeGreaterThan(7500);
    expect(peak(concatSamples(rboth.packets.slice(5, 30)))).toBeGreaterThan(16000);
    // independent streams: own SSRC, both start at timestamp 320
    expect(new Set([rin, rout, rboth].map((c) => c.packets[0].ssrc)).size).toBe(3);
    expect([rin, rout, rboth].map((c) => c.packets[0].timestamp)).toEqual([320, 320, 320]);

    await sim.hangup(call);
    await events.waitFor(isEvent('StasisEnd', legIn.snoop.id));
    await sleep(150); // what was already in flight is read
    const n = rin.packets.length;
    await sleep(100);
    expect(rin.packets.length).toBe(n);
    // the externalMedia channel and the bridge stay until DELETEd
    expect(sim.getChannel(legIn.em.id)?.state).toBe('Up');
    expect(sim.listBridges().find((b) => b.id === legIn.bridge.id)?.channels).toEqual([legIn.em.id]);
  });

  it('an externalMedia channel in a 3-party mixing bridge receives the sum of all participants', async () => {
    const calls = [await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 }), await sim.placeCall({ exten: 'tone700', audioDelayMs: 0 }), await sim.placeCall({ exten: 'tone1000', audioDelayMs: 0 })];
    const conf = await ari.request<{ id: string }>('POST', '/bridges', { type: 'mixing', name: 'conf1' });
    for (const c of calls) expect((await ari.request('POST', `/bridges/${conf.body.id}/addChannel`, { channel: c })).status).toBe(204);
    const rx = await capture();
    const em = await ari.request<{ id: string }>('POST', '/channels/externalMedia', { app: 'recorder', external_host: `127.0.0.1:${rx.port}`, format: 'slin16' });
    await ari.request('POST', `/bridges/${conf.body.id}/addChannel`, { channel: em.body.id });
    const bridge = await ari.request<{ technology: string }>('GET', `/bridges/${conf.body.id}`);
    expect(bridge.body.technology).toBe('softmix');
    await rx.waitForPackets(20);
    const s = concatSamples(rx.packets.slice(2, 20));
    for (const f of [440, 700, 1000]) expect(toneAmplitude(s, f, 16000)).toBeGreaterThan(7500);
    // one participant leaves: its tone disappears from the mix
    await sim.hangup(calls[2]);
    await sleep(120);
    const from = rx.packets.length;
    await rx.waitForPackets(from + 10);
    const after = concatSamples(rx.packets.slice(from, from + 10));
    expect(toneAmplitude(after, 1000, 16000)).toBeLessThan(100);
    expect(toneAmplitude(after, 700, 16000)).toBeGreaterThan(7500);
    for (const c of calls.slice(0, 2)) await sim.hangup(c);
  });

  it('format=slin sends PT 10, 320-byte payloads, timestamps from 160 by 160', async () => {
    const call = await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 });
    const rx = await capture();
    await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rx.port, format: 'slin' });
    const pkts = await rx.waitForPackets(10);
    expect(pkts[0].payloadType).toBe(10);
    expect(pkts[0].payload.length).toBe(320);
    expect(pkts.slice(0, 3).map((p) => p.timestamp)).toEqual([160, 320, 480]);
    expect(toneAmplitude(concatSamples(pkts.slice(2, 10)), 440, 8000)).toBeGreaterThan(7500);
    await sim.hangup(call);
  });
});

describe('impairments over UDP', () => {
  it('per-call drop, duplicate and reorder are visible on the wire and counted', async () => {
    const call = await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 });
    sim.setImpairments({ seed: 9, dropProbability: 0.1, duplicateProbability: 0.05, reorderProbability: 0.05, reorderDepth: 2, speed: 10 }, call);
    const rx = await capture();
    const leg = await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rx.port });
    await rx.waitForPackets(400);
    const stats = sim.rtpStats(leg.em.id)!;
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.duplicated).toBeGreaterThan(0);
    expect(stats.reordered).toBeGreaterThan(0);
    const seqs = rx.packets.map((p) => p.seq);
    expect(seqs.length - new Set(seqs).size).toBeGreaterThan(0); // duplicates
    expect(seqs.some((s, i) => i > 0 && ((s - seqs[i - 1]) & 0xffff) > 0x8000)).toBe(true); // reordered
    await sim.hangup(call);
  });

  it('burst loss, timestamp jump, SSRC change and a spoofed second source', async () => {
    const call = await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 });
    sim.setImpairments({ bursts: [{ atMs: 400, durationMs: 200 }], tsJumpAtPacket: 5, ssrcChangeAtPacket: 40, spoof: { fromPacket: 3, payload: 'noise' }, speed: 5 }, call);
    const rx = await capture();
    const leg = await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rx.port });
    await rx.waitForPackets(100);
    const main = rx.packets.filter((p) => String(p.sourcePort) === leg.em.channelvars?.UNICASTRTP_LOCAL_PORT);
    const spoof = rx.packets.filter((p) => String(p.sourcePort) !== leg.em.channelvars?.UNICASTRTP_LOCAL_PORT);
    expect(spoof.length).toBeGreaterThan(10);
    expect(new Set(spoof.map((p) => p.ssrc)).size).toBe(1);
    expect(spoof[0].ssrc).not.toBe(main[0].ssrc);
    // burst: packets 20..29 missing (400–600 ms of media)
    const firstSeq = main[0].seq;
    const idx = main.map((p) => (p.seq - firstSeq) & 0xffff).filter((i) => i < 40);
    expect(idx.filter((i) => i >= 20 && i < 30)).toEqual([]);
    expect(idx).toContain(19);
    expect(idx).toContain(30);
    // ts jump at packet 5: +1088 with seq +1
    expect(main[5].timestamp - main[4].timestamp).toBe(1088);
    expect((main[5].seq - main[4].seq) & 0xffff).toBe(1);
    // SSRC change at packet 40
    const ssrcs = [...new Set(main.map((p) => p.ssrc))];
    expect(ssrcs.length).toBe(2);
    await sim.hangup(call);
  });

  it('speed factor sends far faster than real time without blocking the event loop', async () => {
    const call = await sim.placeCall({ exten: 'tone440', audioDelayMs: 0 });
    sim.setImpairments({ speed: 100 }, call);
    const rx = await capture();
    await startRecordingLeg(ari, events, { callId: call, spy: 'in', rtpPort: rx.port });
    const start = Date.now();
    let maxTimerLag = 0;
    const probe = setInterval(() => undefined, 5);
    let last = Date.now();
    const lagTimer = setInterval(() => {
      const now = Date.now();
      maxTimerLag = Math.max(maxTimerLag, now - last - 10);
      last = now;
    }, 10);
    await rx.waitForPackets(2000, 5000);
    clearInterval(probe);
    clearInterval(lagTimer);
    const elapsed = Date.now() - start;
    expect(elapsed).toBeLessThan(8000); // 2000 packets = 40 s of audio
    // Sending 100× faster must not starve the event loop (a loop that did would lag by seconds; allow a loaded CI).
    expect(maxTimerLag).toBeLessThan(1000);
    // in order, no duplicates; the receiver may lose a few to its socket buffer while vitest's loop is busy
    const seqs = rx.packets.slice(0, 2000).map((p) => p.seq);
    expect(seqs.every((s, i) => i === 0 || ((s - seqs[i - 1]) & 0xffff) >= 1)).toBe(true);
    expect(((seqs[1999] - seqs[0]) & 0xffff) + 1).toBeLessThan(2100);
    await sim.hangup(call);
  });
});
