import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimSession, stopSimSession } from '../sim/harness.js';
import type { ChannelJson } from '../sim/types.js';

/**
 * Reaching a call that is not in our Stasis app (../shared/asterisk/README.md, last section): `play` on it is
 * Asterisk's 409; a whisper snoop on it (spy=none&whisper=out|both) is accepted, enters our app, and takes `play`.
 */
describe('simulator: a call outside our app, and a whisper snoop on it', () => {
  let s: Awaited<ReturnType<typeof startSimSession>>;
  beforeAll(async () => {
    s = await startSimSession({});
  });
  afterAll(async () => {
    await stopSimSession(s ?? {});
  });

  it('play on it is refused with 409 "Channel not in Stasis application"; a whisper snoop takes play', async () => {
    s.sim.createConfBridge('wconf');
    const member = await s.sim.joinConfBridge('wconf', { exten: 'tone440' });
    const play = await s.ari.request('POST', `/channels/${member}/play`, { media: 'tone:1000' });
    expect(play.status).toBe(409);
    expect(play.body).toEqual({ message: 'Channel not in Stasis application' });
    for (const whisper of ['out', 'both']) {
      const snoop = await s.ari.request<ChannelJson>('POST', `/channels/${member}/snoop`, { spy: 'none', whisper, app: s.sim.app });
      expect(snoop.status).toBe(200);
      await s.events.waitFor((e) => e.type === 'StasisStart' && (e.channel as ChannelJson).id === snoop.body.id);
      const onSnoop = await s.ari.request<{ id: string }>('POST', `/channels/${snoop.body.id}/play`, { media: 'tone:1000' });
      expect(onSnoop.status).toBe(201);
      expect((await s.ari.request('DELETE', `/channels/${snoop.body.id}`)).status).toBe(204);
    }
  });
});
