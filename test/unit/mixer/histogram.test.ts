import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/mixer/histogram.js';
import { hashId } from '../../../src/mixer/mixer-pool.js';

describe('LatencyHistogram', () => {
  it('reports percentiles with the bucket resolution', () => {
    const h = new LatencyHistogram(0.5, 100);
    for (let i = 0; i < 98; i++) h.record(1.2);
    h.record(10.1);
    h.record(300); // overflow
    expect(h.count).toBe(100);
    expect(h.percentile(0.5)).toBe(1.5);
    expect(h.percentile(0.99)).toBe(10.5);
    expect(h.percentile(1)).toBe(300);
    expect(h.max).toBe(300);
    h.reset();
    expect(h.percentile(0.5)).toBe(0);
  });
});

describe('hashId', () => {
  it('spreads recording ids over workers', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[hashId(`rec-${i}-${i * 7919}`) % 4]++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(hashId('abc')).toBe(hashId('abc'));
  });
});
