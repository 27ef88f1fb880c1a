/**
 * The CPU's identity from /proc/cpuinfo: the brand plus family / model / stepping, which tell apart two hosts a VM
 * names alike ("AMD EPYC" on Zen 3 and on Zen 5).
 */
import { describe, expect, it } from 'vitest';
import { cpuIdentity, cpuLabel, parseCpuinfo } from '../../../src/util/cpu-identity.js';

const ZEN3 = `processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
microcode\t: 0xa0011d5
cpu MHz\t\t: 2445.406
cache size\t: 512 KB

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: something else
`;

describe('cpu identity', () => {
  it('reads the first processor: brand, family, model, stepping, clock and cache', () => {
    const c = parseCpuinfo(ZEN3);
    expect(c).toEqual({ model: 'AMD EPYC', family: 25, modelNumber: 1, stepping: 1, mhz: 2445, cache: '512 KB' });
    expect(cpuLabel(c)).toBe('AMD EPYC (family 25 model 1 stepping 1)');
    expect(cpuLabel({ ...c, family: 26, modelNumber: 2 })).not.toBe(cpuLabel(c));
  });

  it('without those fields (another architecture, an empty file) it is the brand alone', () => {
    const arm = parseCpuinfo('processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n', 'Neoverse-N1');
    expect(arm).toEqual({ model: 'Neoverse-N1', family: null, modelNumber: null, stepping: null, mhz: null, cache: null });
    expect(cpuLabel(arm)).toBe('Neoverse-N1');
    expect(parseCpuinfo('').model).toBe('unknown');
  });

  it("names this machine's CPU", () => {
    const c = cpuIdentity();
    expect(c.model.length).toBeGreaterThan(0);
    expect(cpuLabel(c).startsWith(c.model)).toBe(true);
  });
});
