import { describe, expect, it } from 'vitest';
import { SourceLatch } from '../../../src/media/source-latch.js';

describe('SourceLatch', () => {
  it('without an announced source: latches the first source and drops any other', () => {
    const l = new SourceLatch();
    expect(l.latched).toBe(false);
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
    expect(l.source).toEqual({ address: '127.0.0.1', port: 18340 });
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
    expect(l.accept('127.0.0.1', 18342)).toBe(false); // other port
    expect(l.accept('10.0.0.5', 18340)).toBe(false); // other address
    expect(l.foreign).toBe(2);
    expect(l.accept('127.0.0.1', 18340)).toBe(true);
  });

  it('awaiting the announced source: nothing is accepted before it is known, then only it', () => {
    const l = new SourceLatch({ awaitSource: true });
    // an attacker who guessed the port is first: refused, and it does not latch
    expect(l.accept('127.0.0.1', 40000)).toBe(false);
    expect(l.accept('127.0.0.1', 14166)).toBe(false); // even the right source, before Asterisk said so
    expect(l.latched).toBe(false);
    l.expect('127.0.0.1', 14166);
    expect(l.accept('127.0.0.1', 40000)).toBe(false);
    expect(l.accept('127.0.0.2', 14166)).toBe(false);
    expect(l.accept('127.0.0.1', 14166)).toBe(true);
    expect(l.accept('::ffff:127.0.0.1', 14166)).toBe(true); // dual-stack view of the same peer
    expect(l.foreign).toBe(4);
  });

  it('a wildcard announced address pins the port only', () => {
    const l = new SourceLatch({ awaitSource: true });
    l.expect('0.0.0.0', 14166);
    expect(l.accept('192.0.2.7', 14166)).toBe(true);
    expect(l.accept('192.0.2.7', 14168)).toBe(false);
  });
});
