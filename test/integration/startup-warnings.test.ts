import { afterAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../e2e/harness.js';

describe('start-up warnings', () => {
  let h: Harness | undefined;
  afterAll(async () => {
    await h?.close();
  });

  it('an admin API bound beyond loopback is warned about (tokens over plain HTTP)', async () => {
    const log: string[] = [];
    h = await startHarness({ HTTP_HOST: '0.0.0.0' }, { driver: 'simulator', logSink: (l) => log.push(l) });
    const warnings = log.map((l) => JSON.parse(l) as { level: number; msg: string; host?: string }).filter((l) => l.level === 40);
    expect(warnings.some((w) => /beyond loopback/.test(w.msg) && w.host === '0.0.0.0')).toBe(true);
  });
});
