import { describe, expect, it } from 'vitest';
import { sweepInBatches } from '../../../src/storage/purge.js';

/** A retention sweep always ends, whatever its index says. */
describe('sweepInBatches', () => {
  it('handles each id once per sweep, even when handling it leaves it in the index (it used to loop for ever)', async () => {
    const index = ['a', 'b', 'c'];
    const handled: string[] = [];
    let lists = 0;
    const done = await sweepInBatches(
      async (limit) => (lists++, index.slice(0, limit)),
      async (id) => void handled.push(id), // clears nothing
      () => undefined,
      2,
    );
    expect(handled).toEqual(['a', 'b', 'c']);
    expect(done).toBe(3);
    expect(lists).toBeLessThan(5);
  });

  it('an id whose handling fails is reported once and the others go on; handled ones leave the index as usual', async () => {
    const index = new Set(['a', 'bad', 'c', 'd']);
    const failed: string[] = [];
    const done = await sweepInBatches(
      async (limit) => [...index].slice(0, limit),
      async (id) => {
        if (id === 'bad') throw new Error('storage down');
        index.delete(id);
      },
      (id) => void failed.push(id),
      1,
    );
    expect(done).toBe(3);
    expect(failed).toEqual(['bad']);
    expect([...index]).toEqual(['bad']);
  });
});
