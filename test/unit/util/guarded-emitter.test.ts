import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { GuardedEmitter, LISTENER_FAILED } from '../../../src/util/guarded-emitter.js';

interface Events {
  tick: (n: number) => void;
  done: () => void;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('GuardedEmitter', () => {
  it('logs a throwing listener and still calls the other listeners and delivers later events', () => {
    const { logger, lines } = capture();
    const em = new GuardedEmitter<Events>(logger);
    const seen: number[] = [];
    em.on('tick', () => {
      throw new Error('boom');
    });
    em.on('tick', (n) => seen.push(n));
    expect(em.emit('tick', 1)).toBe(true);
    expect(em.emit('tick', 2)).toBe(true);
    expect(seen).toEqual([1, 2]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 50, code: LISTENER_FAILED, event: 'tick', err: { message: 'boom' } });
  });

  it('logs a rejecting async listener without breaking the emit', async () => {
    const { logger, lines } = capture();
    const em = new GuardedEmitter<Events>(logger);
    const seen: number[] = [];
    em.on('tick', async () => {
      throw new Error('async boom');
    });
    em.on('tick', (n) => seen.push(n));
    em.emit('tick', 1);
    em.emit('tick', 2);
    await settle();
    expect(seen).toEqual([1, 2]);
    expect(lines.map((l) => [l.code, l.event, (l.err as { message: string }).message])).toEqual([
      [LISTENER_FAILED, 'tick', 'async boom'],
      [LISTENER_FAILED, 'tick', 'async boom'],
    ]);
  });

  it('guards a once listener that throws a non-Error value', () => {
    const { logger, lines } = capture();
    const em = new GuardedEmitter<Events>(logger);
    let done = 0;
    em.once('done', () => {
      throw 'string thrown';
    });
    em.on('done', () => done++);
    em.emit('done');
    em.emit('done');
    expect(done).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ code: LISTENER_FAILED, event: 'done' });
  });

  it('on/once/off/listenerCount behave like an EventEmitter; changes during an emit apply from the next one', () => {
    const em = new GuardedEmitter<Events>(capture().logger);
    const calls: string[] = [];
    const a = (n: number) => calls.push(`a${n}`);
    const b = (n: number) => {
      calls.push(`b${n}`);
      em.off('tick', a);
      em.on('tick', (m) => calls.push(`c${m}`));
    };
    em.on('tick', a).on('tick', b).once('tick', (n) => calls.push(`once${n}`));
    expect(em.listenerCount('tick')).toBe(3);
    em.emit('tick', 1);
    expect(calls).toEqual(['a1', 'b1', 'once1']);
    calls.length = 0;
    em.off('tick', b);
    em.emit('tick', 2);
    expect(calls).toEqual(['c2']);
    expect(em.emit('done')).toBe(false);
    em.removeAllListeners('tick');
    expect(em.listenerCount('tick')).toBe(0);
  });

  it('a logger that throws does not break the emitter either', () => {
    const logger = createLogger('info', {
      write: () => {
        throw new Error('log sink down');
      },
    });
    const em = new GuardedEmitter<Events>(logger);
    const seen: number[] = [];
    em.on('tick', () => {
      throw new Error('boom');
    });
    em.on('tick', (n) => seen.push(n));
    em.emit('tick', 1);
    expect(seen).toEqual([1]);
  });
});
