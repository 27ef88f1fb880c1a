import { describe, expect, it } from 'vitest';
import { kaiserLowpass, referenceDecimate } from '../../bench/reference.js';
import { cpuPerCallMinute, diffUdp, median, parseSnmpUdp, percentile, renderTable, socketDrops } from '../../bench/report.js';
import { callSignals, signalPayloads, signalSample } from '../../bench/signals.js';

const SNMP = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 326379 243 2971 329612 2971 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

const PROC_UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 00000000:4E20 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 1 2 0000000000000000 7
  102: 00000000:4E22 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0000000000000000 0
  103: 0100007F:C738 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3 2 0000000000000000 99
`;

describe('bench report helpers', () => {
  it('parses the Udp counters of /proc/net/snmp and diffs them', () => {
    const a = parseSnmpUdp(SNMP);
    expect(a).toMatchObject({ InDatagrams: 326379, InErrors: 2971, RcvbufErrors: 2971, NoPorts: 243 });
    const b = { ...a, InErrors: a.InErrors + 5, RcvbufErrors: a.RcvbufErrors + 5 };
    expect(diffUdp(a, b)).toMatchObject({ InErrors: 5, RcvbufErrors: 5, InDatagrams: 0 });
  });

  it('sums drops and rx_queue of /proc/net/udp only for our ports', () => {
    expect(socketDrops(PROC_UDP, new Set([20000, 20002]))).toEqual({ sockets: 2, drops: 7, rxQueueBytes: 0xa00 });
    expect(socketDrops(PROC_UDP, new Set([1]))).toEqual({ sockets: 0, drops: 0, rxQueueBytes: 0 });
  });

  it('normalises CPU by call-minutes of packets received (2 streams × 3000 packets)', () => {
    expect(cpuPerCallMinute(600, 6000)).toBe(600);
    expect(cpuPerCallMinute(600, 60_000)).toBe(60);
    expect(cpuPerCallMinute(1, 0)).toBe(0);
  });

  it('median, percentile, table', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    const t = renderTable([
      ['a', 'b'],
      ['long name', '1'],
    ]).split('\n');
    expect(t).toHaveLength(3);
    expect(t[0].length).toBe(t[2].length);
    expect(t[1]).toMatch(/^\|-+\|-+:\|$/);
  });
});

describe('bench signals and reference decimator', () => {
  it('payloads are big-endian slin16 of the signal, one second period', () => {
    const spec = callSignals(5).in;
    const p = signalPayloads(spec);
    expect(p).toHaveLength(50);
    expect(p[3].length).toBe(640);
    expect(p[3].readInt16BE(2 * 7)).toBe(signalSample(spec, 3 * 320 + 7));
    expect(signalSample(spec, 16000 + 11)).toBe(signalSample(spec, 11));
  });

  it('in and out tones differ and stay inside the passband', () => {
    for (let c = 0; c < 16; c++) {
      const s = callSignals(c);
      const fin = s.in.tones.map((t) => t[0]);
      const fout = s.out.tones.map((t) => t[0]);
      for (const f of [...fin, ...fout]) expect(f).toBeLessThan(3400);
      for (const f of fin) expect(fout).not.toContain(f);
    }
  });

  it('reference low-pass: unity in the passband, ≥ 80 dB down where it would alias', () => {
    const h = kaiserLowpass(255, 3700, 16000, 8.6);
    const gain = (f: number): number => {
      let re = 0;
      let im = 0;
      h.forEach((c, n) => {
        re += c * Math.cos((2 * Math.PI * f * n) / 16000);
        im -= c * Math.sin((2 * Math.PI * f * n) / 16000);
      });
      return 20 * Math.log10(Math.hypot(re, im));
    };
    for (const f of [0, 1000, 3000, 3300]) expect(Math.abs(gain(f))).toBeLessThan(0.01);
    for (const f of [4200, 5000, 7000]) expect(gain(f)).toBeLessThan(-80);
  });

  it('reference decimation keeps a passband tone on the production grid (centre 33)', () => {
    const f = 1000;
    const x = (n: number): number => Math.sin((2 * Math.PI * f * n) / 16000);
    const y = referenceDecimate(x, 0, 32000, 16000);
    // r[m] is centred on input 2m − 33.
    for (const m of [2000, 5000, 9000]) expect(y[m]).toBeCloseTo(x(2 * m - 33), 3);
  });
});
