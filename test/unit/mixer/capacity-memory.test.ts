/**
 * The learned admission ceilings kept across restarts: read back only for the same machine and setup, written only
 * when they change, and a damaged or foreign file ignored (never trusted, never fatal).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CapacityMemory } from '../../../src/mixer/capacity-memory.js';
import { cpuIdentity, cpuLabel } from '../../../src/util/cpu-identity.js';

const dir = mkdtempSync(join(tmpdir(), 'capacity-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = { workers: 2, receiver: 'native', playoutDelayMs: 300 };

describe('CapacityMemory', () => {
  it('keeps the ceilings for the same machine and setup, and nothing for another setup', () => {
    const file = join(dir, 'a.json');
    expect(new CapacityMemory(file, KEY).load()).toBeNull(); // nothing yet
    new CapacityMemory(file, KEY).save([1180, Infinity]);
    expect(new CapacityMemory(file, KEY).load()).toEqual([1180, Infinity]);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toMatchObject({ version: 2, workers: 2, receiver: 'native', playoutDelayMs: 300, ceilings: [1180, null], cpuModel: cpuLabel() });
    expect(new CapacityMemory(file, { ...KEY, workers: 4 }).load()).toBeNull();
    expect(new CapacityMemory(file, { ...KEY, receiver: 'dgram' }).load()).toBeNull();
    expect(new CapacityMemory(file, { ...KEY, playoutDelayMs: 100 }).load()).toBeNull();
    writeFileSync(file, JSON.stringify({ ...stored, cpuModel: 'another CPU' }));
    expect(new CapacityMemory(file, KEY).load()).toBeNull();
    // the same brand on another microarchitecture (a VM shows "AMD EPYC" on Zen 3 and Zen 5 alike) is another machine
    const id = cpuIdentity();
    if (id.family !== null) {
      writeFileSync(file, JSON.stringify({ ...stored, cpuModel: cpuLabel({ ...id, family: id.family + 1 }) }));
      expect(new CapacityMemory(file, KEY).load()).toBeNull();
    }
    // a file of the first format (brand only) is ignored: it cannot say which host it was learned on
    writeFileSync(file, JSON.stringify({ ...stored, version: 1, cpuModel: id.model }));
    expect(new CapacityMemory(file, KEY).load()).toBeNull();
  });

  it('writes only a change, never an all-unknown list', () => {
    const file = join(dir, 'b.json');
    const m = new CapacityMemory(file, KEY);
    m.save([Infinity, Infinity]);
    expect(() => statSync(file)).toThrow(/ENOENT/);
    m.save([900, 950]);
    const first = readFileSync(file, 'utf8');
    writeFileSync(file, first.replace('"at"', '"at_"')); // marks the file: an unchanged save must not rewrite it
    m.save([900, 950]);
    expect(readFileSync(file, 'utf8')).toContain('"at_"');
    m.save([855, 950]);
    expect(new CapacityMemory(file, KEY).load()).toEqual([855, 950]);
  });

  it('ignores a damaged or hostile file', () => {
    const file = join(dir, 'c.json');
    const m = new CapacityMemory(file, KEY);
    m.save([100, 200]);
    const good = JSON.parse(readFileSync(file, 'utf8'));
    for (const bad of ['{', 'null', '[]', JSON.stringify({ ...good, ceilings: [100] }), JSON.stringify({ ...good, ceilings: [-1, 5] }), JSON.stringify({ ...good, ceilings: [1.5, 5] }), JSON.stringify({ ...good, ceilings: ['100', 5] }), JSON.stringify({ ...good, ceilings: [1e9, 5] }), JSON.stringify({ ...good, version: 3 })]) {
      writeFileSync(file, bad);
      expect(new CapacityMemory(file, KEY).load(), bad).toBeNull();
    }
  });
});
