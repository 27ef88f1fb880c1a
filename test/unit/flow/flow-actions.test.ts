import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AriEventOf } from '../../../src/ari/types.js';
import { handleFlowStasisStart } from '../../../src/flow/flow-actions.js';
import type { RecorderApi } from '../../../src/recorder/types.js';

/** Who a flow action records for: customer_id=, else CUSTOMER_ID (empty = unset), else the default; bad → unrecorded. */
function setup() {
  const starts: Array<{ id: string; customer: string }> = [];
  const continued: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  const recorder = {
    startCall: async (id: string, customer: string) => {
      starts.push({ id, customer });
      return { id, type: 'call', customer_id: customer, recording_id: 'r', recording_ids: ['r'], tm_create: '', tm_update: '' };
    },
  } as unknown as RecorderApi;
  const setVars: Array<[string, string, string]> = [];
  const rest = {
    continueInDialplan: async (id: string) => void continued.push(id),
    setVariable: async (id: string, name: string, value: string) => void setVars.push([id, name, value]),
  };
  const deps = { recorder, rest, defaultCustomerId: 'dflt', logger: pino(sink) };
  const ev = (args: string[], vars: Record<string, string>) =>
    ({ type: 'StasisStart', args, channel: { id: 'ch-1', name: 'PJSIP/x', state: 'Up', channelvars: vars } }) as unknown as AriEventOf<'StasisStart'>;
  return { starts, continued, lines, deps, ev, setVars };
}

describe('flow action ownership', () => {
  it.each([
    [['recording_start'], { CUSTOMER_ID: '' }, 'dflt'],
    [['recording_start', 'customer_id='], { CUSTOMER_ID: '' }, 'dflt'],
    [['recording_start'], { CUSTOMER_ID: 'cust-7' }, 'cust-7'],
    [['recording_start', 'customer_id=cust-9'], { CUSTOMER_ID: '' }, 'cust-9'],
    [['recording_start', 'customer_id=cust-7'], { CUSTOMER_ID: 'cust-7' }, 'cust-7'],
    [['recording_start'], {}, 'dflt'],
  ])('%j with channelvars %j records for %s', async (args, vars, customer) => {
    const t = setup();
    await handleFlowStasisStart(t.ev(args, vars), t.deps);
    expect(t.starts).toEqual([{ id: 'ch-1', customer }]);
    expect(t.continued).toEqual(['ch-1']);
    // customer_id= naming the owner of a channel without one makes it the channel's CUSTOMER_ID (API, later flows)
    expect(t.setVars).toEqual(args.includes('customer_id=cust-9') ? [['ch-1', 'CUSTOMER_ID', 'cust-9']] : []);
  });

  it("customer_id= naming another customer than the channel's CUSTOMER_ID: refused, the call goes on unrecorded", async () => {
    const t = setup();
    await handleFlowStasisStart(t.ev(['recording_start', 'customer_id=cust-9'], { CUSTOMER_ID: 'cust-7' }), t.deps);
    expect(t.starts).toEqual([]);
    expect(t.setVars).toEqual([]);
    expect(t.continued).toEqual(['ch-1']);
    expect(t.lines.filter((l) => l.level === 40).map((l) => l.err)).toEqual(["customer_id cust-9 is not the call's owner (its CUSTOMER_ID is cust-7)"]);
  });

  it('an unknown action (a typo) sends the caller back to the dialplan with one warning, never leaves it in Stasis', async () => {
    const t = setup();
    await handleFlowStasisStart(t.ev(['recording_strat'], {}), t.deps);
    expect(t.starts).toEqual([]);
    expect(t.continued).toEqual(['ch-1']);
    expect(t.lines.filter((l) => l.level === 40)).toHaveLength(1);
  });

  it.each([
    [['recording_start', 'customer_id=../x'], {}, '../x'],
    [['recording_start'], { CUSTOMER_ID: 'a:b' }, 'a:b'],
  ])('%j / %j: the call goes on unrecorded, one warning names the bad value', async (args, vars, bad) => {
    const t = setup();
    await handleFlowStasisStart(t.ev(args, vars), t.deps);
    expect(t.starts).toEqual([]);
    expect(t.continued).toEqual(['ch-1']);
    const warnings = t.lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0])).toContain(JSON.stringify(bad).slice(1, -1));
    expect(warnings[0].code).toBe('invalid_customer_id');
  });
});
