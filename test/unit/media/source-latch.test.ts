import { describe, expect, it } from 'vitest';
import { SourceLatch } from '../../../src/media/source-latch.js';

describe('SourceLatch', () => {
  it('latches the first source and drops any other', () => {
    const l = new SourceLatch();
    expect(l.latched).toBe(false);
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
    expect(l.source).toEqual({ address: '127.0.0.1', port: 18340 });
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
    expect(l.accept('127.0.0.1', 18342)).toBe(false); // other port
    expect(l.accept('10.0.0.5', 18340)).toBe(false); // other address
    expect(l.spoofed).toBe(2);
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
  });
});
