/** Scenario steps shared by the simulator's tests: the product's recording choreography, done by hand. */
import type { ChannelJson, BridgeJson } from './types.js';
import { type AriTestClient, type EventCollector, isEvent } from './harness.js';

export interface RecordingLeg {
  snoop: ChannelJson;
  em: ChannelJson;
  bridge: BridgeJson;
}

/** externalMedia → snoop → bridge → wait both StasisStart → addChannel (the sequence that works on Asterisk). */
export async function startRecordingLeg(
  ari: AriTestClient,
  events: EventCollector,
  o: { callId: string; spy: 'in' | 'out' | 'both'; rtpPort: number; app?: string; format?: string },
): Promise<RecordingLeg> {
  const app = o.app ?? 'recorder';
  const em = await ari.request<ChannelJson>('POST', '/channels/externalMedia', { app, external_host: `127.0.0.1:${o.rtpPort}`, format: o.format ?? 'slin16' });
  if (em.status !== 200) throw new Error(`externalMedia ${em.status} ${em.text}`);
  const snoop = await ari.request<ChannelJson>('POST', `/channels/${o.callId}/snoop`, { spy: o.spy, app });
  if (snoop.status !== 200) throw new Error(`snoop ${snoop.status} ${snoop.text}`);
  const bridge = await ari.request<BridgeJson>('POST', '/bridges', { type: 'mixing' });
  await events.waitFor(isEvent('StasisStart', em.body.id));
  await events.waitFor(isEvent('StasisStart', snoop.body.id));
  const add = await ari.request('POST', `/bridges/${bridge.body.id}/addChannel`, { channel: `${snoop.body.id},${em.body.id}` });
  if (add.status !== 204) throw new Error(`addChannel ${add.status} ${add.text}`);
  await events.waitFor((e) => e.type === 'ChannelVarset' && e.variable === 'BRIDGEPEER' && e.value === snoop.body.name);
  return { snoop: snoop.body, em: em.body, bridge: bridge.body };
}
