import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../e2e/harness.js';
import { createSimDriver } from '../e2e/driver/index.js';
import type { CallDriver } from '../e2e/driver/types.js';

interface Line {
  level: number;
  msg: string;
  host?: string;
  reason?: string;
}

let h: Harness | undefined;
let driver: CallDriver | undefined;
afterEach(async () => {
  await h?.close();
  await driver?.close();
  h = undefined;
  driver = undefined;
});

/** A daemon on the simulator (ARI password `password`); returns its warnings. */
async function warningsOf(env: Record<string, string>, password = 'asterisk'): Promise<Line[]> {
  const log: string[] = [];
  driver = await createSimDriver({ password });
  h = await startHarness(env, { driver, logSink: (l) => log.push(l) });
  return log.map((l) => JSON.parse(l) as Line).filter((l) => l.level === 40);
}

describe('start-up warnings', () => {
  it('an admin API bound beyond loopback is warned about (tokens over plain HTTP)', async () => {
    const warnings = await warningsOf({ HTTP_HOST: '0.0.0.0' });
    expect(warnings.some((w) => /beyond loopback/.test(w.msg) && w.host === '0.0.0.0')).toBe(true);
  });

  it('the example ARI password is warned about; another one is not', async () => {
    const warnings = await warningsOf({});
    expect(warnings.filter((w) => /ARI_PASSWORD is the example default/.test(w.msg))).toHaveLength(1);
    await h?.close();
    await driver?.close();
    h = undefined;
    driver = undefined;
    const quiet = await warningsOf({}, 'a-password-of-our-own');
    expect(quiet.filter((w) => /ARI_PASSWORD/.test(w.msg))).toEqual([]);
    expect(quiet.filter((w) => /beyond loopback/.test(w.msg))).toEqual([]);
  });

  it('a missing native RTP receiver is one warning line saying the capacity is lower', async () => {
    const before = process.env.ARI_UDP_NATIVE;
    process.env.ARI_UDP_NATIVE = '0'; // as if `make native` had not built it
    try {
      const warnings = await warningsOf({ RTP_RECEIVER: 'auto' });
      const native = warnings.filter((w) => /native .*receiver unavailable/.test(w.msg));
      expect(native).toHaveLength(1);
      expect(native[0].msg).toMatch(/node:dgram, about half the calls per core/);
    } finally {
      if (before === undefined) delete process.env.ARI_UDP_NATIVE;
      else process.env.ARI_UDP_NATIVE = before;
    }
  });
});
