/**
 * placeDialplanCall() for both drivers: the same ARI requests against the simulator and a real Asterisk.
 *   POST /ari/channels?endpoint=Local/<silence|tone<callerTone>>@test&context=testdial&extension=<calleeTone>&priority=1
 * The caller's ;1 runs Dial(Local/tone<f>@test) (asterisk-config [testdial]), outside any Stasis app. A silent
 * caller's ;2 runs no generator, so a spy on ;2 hears what the caller hears; a talking one sends frames. The called party's ;1 is found in the basic bridge Dial()
 * made with the caller (GET /bridges lists every bridge, Stasis or not).
 */
import { randomUUID } from 'node:crypto';
import type { BridgeJson } from '../../sim/types.js';
import type { FlowRest } from './flow.js';
import type { DialplanCall } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function placeDialplanCallWith(rest: FlowRest, opts: { callerTone?: number; calleeTone: number }, timeoutMs = 5000): Promise<DialplanCall> {
  const uuid = randomUUID();
  // core_unreal.c honours otherChannelId only together with channelId
  const caller = opts.callerTone ? `tone${opts.callerTone}` : 'silence';
  const query = { endpoint: `Local/${caller}@test`, context: 'testdial', extension: String(opts.calleeTone), priority: '1', channelId: `dialer-${uuid}`, otherChannelId: `dialer-${uuid}-2` };
  const r = await rest('POST', '/channels', query);
  if (r.status !== 200) throw new Error(`originate dial: ${r.status} ${r.text}`);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const b = await rest('GET', '/bridges');
    if (b.status !== 200) throw new Error(`list bridges: ${b.status} ${b.text}`);
    const bridge = (b.body as BridgeJson[]).find((x) => x.channels.includes(query.channelId) && x.channels.length === 2);
    if (bridge) {
      return { channelId: query.channelId, farHalfId: query.otherChannelId, calleeId: bridge.channels.find((id) => id !== query.channelId)! };
    }
    if (Date.now() > end) throw new Error(`the dialplan call ${query.channelId} was not bridged in ${timeoutMs} ms`);
    await sleep(50);
  }
}
