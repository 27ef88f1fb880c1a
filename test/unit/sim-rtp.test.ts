import { describe, expect, it } from 'vitest';
import { MEDIA_FORMATS, encodeFrame, linearToUlaw, ulawToLinear } from '../sim/codec.js';
import { type Impairments, NetworkImpairer, RtpPacketizer, buildRtp } from '../sim/impairments.js';
import { parseRtp, samplesBE, toneAmplitude } from '../sim/harness.js';
import { renderLayers, toSignalFn, tone } from '../sim/signals.js';

function packetizer(imp: Impairments = {}, state = { ssrc: 0x12345678, seq: 65534, ts: 320 }) {
  return new RtpPacketizer(118, 320, state, () => imp, 42);
}

describe('RTP packetizer (Asterisk externalMedia format)', () => {
  it('writes V=2, PT 118, no marker/CSRC/extension, seq +1 with wrap, ts from 320 step 320', () => {
    const p = packetizer();
    const pkts = Array.from({ length: 4 }, () => parseRtp(p.packetize(Buffer.alloc(640))));
    expect(pkts.map((x) => x.version)).toEqual([2, 2, 2, 2]);
    expect(pkts.every((x) => x.payloadType === 118 && !x.marker && x.csrcCount === 0 && !x.extension && !x.padding)).toBe(true);
    expect(pkts.map((x) => x.seq)).toEqual([65534, 65535, 0, 1]);
    expect(pkts.map((x) => x.timestamp)).toEqual([320, 640, 960, 1280]);
    expect(new Set(pkts.map((x) => x.ssrc))).toEqual(new Set([0x12345678]));
    expect(pkts[0].payload.length).toBe(640);
  });

  it('jumps the timestamp by 1088 with a contiguous sequence at tsJumpAtPacket', () => {
    const p = packetizer({ tsJumpAtPacket: 3 });
    const pkts = Array.from({ length: 5 }, () => parseRtp(p.packetize(Buffer.alloc(640))));
    const dTs = pkts.slice(1).map((x, i) => x.timestamp - pkts[i].timestamp);
    const dSeq = pkts.slice(1).map((x, i) => (x.seq - pkts[i].seq) & 0xffff);
    expect(dTs).toEqual([320, 320, 1088, 320]);
    expect(dSeq).toEqual([1, 1, 1, 1]);
  });

  it('changes SSRC at ssrcChangeAtPacket and jumps sequence and timestamp', () => {
    const p = packetizer({ ssrcChangeAtPacket: 2 });
    const pkts = Array.from({ length: 4 }, () => parseRtp(p.packetize(Buffer.alloc(640))));
    expect(pkts[1].ssrc).toBe(0x12345678);
    expect(pkts[2].ssrc).not.toBe(0x12345678);
    expect(pkts[3].ssrc).toBe(pkts[2].ssrc);
    expect((pkts[2].seq - pkts[1].seq) & 0xffff).toBeGreaterThan(1);
    expect(pkts[2].timestamp - pkts[1].timestamp).toBeGreaterThan(320);
    expect((pkts[3].seq - pkts[2].seq) & 0xffff).toBe(1);
  });
});

describe('network impairments', () => {
  const run = (imp: Impairments, n = 2000) => {
    const net = new NetworkImpairer(() => imp, imp.seed ?? 1);
    const p = packetizer(imp, { ssrc: 1, seq: 0, ts: 320 });
    const out: number[] = [];
    for (let k = 0; k < n; k++) for (const d of net.process(p.packetize(Buffer.alloc(4)), k * 20)) out.push(parseRtp(d).seq);
    return { out, stats: net.stats };
  };

  it('drops about dropProbability of the packets and counts them', () => {
    const { out, stats } = run({ dropProbability: 0.1, seed: 7 });
    expect(stats.dropped).toBeGreaterThan(140);
    expect(stats.dropped).toBeLessThan(260);
    expect(out.length).toBe(2000 - stats.dropped);
    expect(new Set(out).size).toBe(out.length);
  });

  it('is reproducible with a seed', () => {
    expect(run({ dropProbability: 0.2, seed: 3 }).out).toEqual(run({ dropProbability: 0.2, seed: 3 }).out);
    expect(run({ dropProbability: 0.2, seed: 3 }).out).not.toEqual(run({ dropProbability: 0.2, seed: 4 }).out);
  });

  it('reorders: a held packet comes after `reorderDepth` later ones, nothing lost', () => {
    const { out, stats } = run({ reorderProbability: 0.05, reorderDepth: 3, seed: 11 }, 1000);
    expect(stats.reordered).toBeGreaterThan(20);
    const inversions = out.filter((s, i) => i > 0 && s < out[i - 1]).length;
    expect(inversions).toBeGreaterThan(15);
    // every packet except those still held at the end arrives exactly once
    expect(new Set(out).size).toBe(out.length);
    expect(out.length).toBeGreaterThanOrEqual(1000 - 3);
    const i = out.findIndex((s, j) => j > 0 && s < out[j - 1]);
    expect(out[i - 1] - out[i]).toBeLessThanOrEqual(3 + 3);
  });

  it('duplicates', () => {
    const { out, stats } = run({ duplicateProbability: 0.05, seed: 5 }, 1000);
    expect(stats.duplicated).toBeGreaterThan(20);
    expect(out.length).toBe(1000 + stats.duplicated);
  });

  it('burst loss drops every packet of the window and only those', () => {
    const { out, stats } = run({ bursts: [{ atMs: 1000, durationMs: 200 }] }, 100);
    expect(stats.burstDropped).toBe(10);
    expect(out.filter((s) => s >= 50 && s < 60)).toEqual([]);
    expect(out.length).toBe(90);
  });
});

describe('payload encoding', () => {
  it('slin16 is big-endian int16, 640 bytes per 20 ms, and keeps the tone', () => {
    const frame = new Float64Array(320);
    renderLayers([{ id: 'a', fn: toSignalFn(tone(440, 8190))!, startMs: 0, endMs: Infinity }], 0, 16000, frame);
    const buf = encodeFrame(MEDIA_FORMATS.slin16, frame);
    expect(buf.length).toBe(640);
    expect(buf.readInt16BE(2)).toBe(Math.round(8190 * Math.sin((2 * Math.PI * 440) / 16000)));
    const s = samplesBE(buf);
    expect(toneAmplitude(s, 440, 16000)).toBeGreaterThan(7000);
  });

  it('saturates instead of wrapping', () => {
    const buf = encodeFrame(MEDIA_FORMATS.slin16, Float64Array.from([40000, -40000]));
    expect([buf.readInt16BE(0), buf.readInt16BE(2)]).toEqual([32767, -32768]);
  });

  it('µ-law round-trips within G.711 quantisation', () => {
    for (const v of [0, 100, -100, 1000, -8000, 30000]) {
      const back = ulawToLinear(linearToUlaw(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(8, Math.abs(v) * 0.07));
    }
    expect(encodeFrame(MEDIA_FORMATS.ulaw, new Float64Array(160)).length).toBe(160);
  });

  it('layers start and end on the sample grid (silence before the dialplan audio)', () => {
    const out = new Float64Array(320);
    renderLayers([{ id: 'a', fn: () => 1000, startMs: 10, endMs: 15 }], 0, 16000, out);
    expect(out.indexOf(1000)).toBe(160);
    expect(out.filter((v) => v === 1000).length).toBe(80);
  });

  it('buildRtp writes a 12-byte header', () => {
    const pkt = buildRtp(10, 7, 160, 0xdeadbeef, Buffer.from([1, 2]));
    expect([...pkt.subarray(0, 12)]).toEqual([0x80, 10, 0, 7, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef]);
  });
});
