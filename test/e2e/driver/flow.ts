/**
 * runFlow() for both drivers: the same ARI requests against the simulator and a real Asterisk.
 *   POST /ari/channels?endpoint=Local/tone<callerTone>@test&context=flow-examples&extension=<scenario>&priority=1
 * ;1 runs the scenario of asterisk-config/extensions.conf [flow-examples] (it is the recorded channel), ;2 is the
 * caller's phone: it says <callerTone> Hz and plays the keys set in TESTDTMF_<n> ([test-play]). The keys are
 * sent once the channel is in the matching Read() (polled with GET /channels/{id}, which works for channels
 * outside Stasis too), and `done` resolves when the channel is gone (GET → 404).
 */
import type { ChannelJson } from '../../sim/types.js';
import type { FlowOptions, FlowRun, FlowScenario } from './types.js';

export const FLOW_CONTEXT = 'flow-examples';

export interface FlowRest {
  (method: string, path: string, query?: Record<string, string>): Promise<{ status: number; body: unknown; text: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFlowWith(
  rest: FlowRest,
  sendDtmf: (channelId: string, digits: string) => Promise<void>,
  scenario: FlowScenario,
  opts: FlowOptions = {},
): Promise<FlowRun> {
  const r = await rest('POST', '/channels', {
    endpoint: `Local/tone${opts.callerTone ?? 300}@test`,
    context: FLOW_CONTEXT,
    extension: scenario,
    priority: '1',
  });
  if (r.status !== 200) throw new Error(`originate ${scenario}: ${r.status} ${r.text}`);
  const ch = r.body as ChannelJson;
  const keys: Array<{ variable: string; digits: string }> = [];
  if (scenario === 'consent') keys.push({ variable: 'CONSENT', digits: opts.consent ? '1' : (opts.declineDigit ?? '2') });
  if (scenario === 'pause_resume') keys.push({ variable: 'CARD', digits: opts.cardDigits ?? '4111#' });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const until = Date.now() + timeoutMs;

  const get = async (): Promise<ChannelJson | null> => {
    const g = await rest('GET', `/channels/${encodeURIComponent(ch.id)}`);
    if (g.status === 404) return null;
    if (g.status !== 200) throw new Error(`GET channel ${ch.id}: ${g.status} ${g.text}`);
    return g.body as ChannelJson;
  };
  const done = (async () => {
    for (const k of keys) {
      for (;;) {
        const c = await get();
        if (!c) throw new Error(`${scenario}: the channel hung up before Read(${k.variable})`);
        if (c.dialplan.app_name === 'Read' && c.dialplan.app_data.startsWith(`${k.variable},`)) break;
        if (Date.now() > until) throw new Error(`${scenario}: Read(${k.variable}) not reached in ${timeoutMs} ms (at ${c.dialplan.app_name}(${c.dialplan.app_data}))`);
        await sleep(50);
      }
      await sendDtmf(ch.id, k.digits);
    }
    while (await get()) {
      if (Date.now() > until) throw new Error(`${scenario}: still up after ${timeoutMs} ms`);
      await sleep(50);
    }
  })();
  done.catch(() => undefined); // a caller that never awaits `done` must not get an unhandled rejection
  return { channelId: ch.id, name: ch.name, done };
}
