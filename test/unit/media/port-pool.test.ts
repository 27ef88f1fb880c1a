import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { PortPool } from '../../../src/media/port-pool.js';

describe('PortPool', () => {
  it('hands out even ports only by default', () => {
    const p = new PortPool({ min: 10001, max: 10010 });
    expect(p.capacity).toBe(5);
    const got = [p.allocate(), p.allocate(), p.allocate(), p.allocate(), p.allocate()];
    expect(got.sort()).toEqual([10002, 10004, 10006, 10008, 10010]);
  });

  it("uses every port with parity 'all'", () => {
    const p = new PortPool({ min: 5000, max: 5003, parity: 'all' });
    expect([p.allocate(), p.allocate(), p.allocate(), p.allocate()].sort()).toEqual([5000, 5001, 5002, 5003]);
  });

  it('throws PORTS_EXHAUSTED when empty, and works again after a release', () => {
    const p = new PortPool({ min: 20000, max: 20002 });
    const a = p.allocate();
    const b = p.allocate();
    let err: unknown;
    try {
      p.allocate();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('rtp_ports_exhausted');
    expect((err as AppError).status).toBe(503);
    p.release(a);
    expect(p.allocate()).toBe(a);
    expect(p.inUseCount).toBe(2);
    expect(p.isInUse(b)).toBe(true);
  });

  it('picks ports at random: the next one cannot be predicted from the previous ones', () => {
    const p = new PortPool({ min: 20000, max: 29999 });
    const firsts = new Set<number>();
    let ascending = 0;
    for (let run = 0; run < 200; run++) {
      const a = p.allocate();
      const b = p.allocate();
      firsts.add(a);
      if (b === a + 2) ascending++;
      p.release(a);
      p.release(b);
    }
    // In order (the old FIFO) every run would give a+2; at random that happens about 200/5000 times.
    expect(ascending).toBeLessThan(10);
    expect(firsts.size).toBeGreaterThan(150);
    // every port of the range is reachable, none outside it
    const q = new PortPool({ min: 100, max: 106 });
    const all = [q.allocate(), q.allocate(), q.allocate(), q.allocate()].sort();
    expect(all).toEqual([100, 102, 104, 106]);
  });

  it('ignores double release and release of unknown ports', () => {
    const p = new PortPool({ min: 100, max: 102 });
    const a = p.allocate();
    p.release(a);
    p.release(a);
    p.release(4242);
    expect(p.freeCount).toBe(2);
    expect(p.inUseCount).toBe(0);
  });

  it('parks a port that failed to bind and brings it back later', () => {
    let now = 0;
    const p = new PortPool({ min: 100, max: 102, busyRetryMs: 1000, now: () => now });
    const a = p.allocate();
    p.markBusy(a);
    expect(p.busyCount).toBe(1);
    const b = p.allocate();
    expect(b).not.toBe(a);
    expect(() => p.allocate()).toThrow(AppError);
    now = 1000;
    expect(p.allocate()).toBe(a);
  });

  it('rejects bad ranges', () => {
    expect(() => new PortPool({ min: 0, max: 10 })).toThrow(AppError);
    expect(() => new PortPool({ min: 10, max: 5 })).toThrow(AppError);
    expect(() => new PortPool({ min: 60000, max: 70000 })).toThrow(AppError);
    expect(() => new PortPool({ min: 5001, max: 5001 })).toThrow(/no usable port/);
  });
});
