/**
 * The e2e CallDriver: the simulator driver, and the real-Asterisk driver pointed at the simulator (which
 * understands asterisk-config's test dialplan: Local/tone<f>@test, tone:<f> playbacks, TESTDTMF_ globals,
 * [testconf] ConfBridge), run through the same checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallDriver, createAsteriskDriver, createDriver, createSimDriver } from '../e2e/driver/index.js';
import { type AriSimulator, startAriSimulator } from '../sim/index.js';
import { AriTestClient, type EventCollector, RtpCapture, concatSamples, isEvent, toneAmplitude } from '../sim/harness.js';
import { startRecordingLeg } from '../sim/scenario.js';

interface Setup {
  driver: CallDriver;
  sim: AriSimulator;
  ari: AriTestClient;
  events: EventCollector;
}

const setups: Array<[string, () => Promise<Setup>]> = [
  [
    'simulator driver',
    async () => {
      const driver = await createSimDriver({ audioDelayMs: 0 });
      const ari = new AriTestClient(driver.ariUrl, driver.ariUser, driver.ariPassword);
      return { driver, sim: driver.simulator!, ari, events: await ari.events(driver.app) };
    },
  ],
  [
    'real-Asterisk driver (against the simulator)',
    async () => {
      const sim = await startAriSimulator({ audioDelayMs: 0 });
      const driver = createAsteriskDriver({ url: sim.url, user: sim.username, password: sim.password, app: 'recorder' });
      const ari = new AriTestClient(sim.url, sim.username, sim.password);
      return { driver, sim, ari, events: await ari.events('recorder') };
    },
  ],
];

for (const [label, make] of setups) {
  describe(label, () => {
    let s: Setup;
    beforeAll(async () => {
      s = await make();
    });
    afterAll(async () => {
      s.events.close();
      await s.driver.close();
      await s.sim.close();
    });

    it('placeCall: in tone reaches snoop in, out tone reaches snoop out; hangup ends the call', async () => {
      const call = await s.driver.placeCall({ inTone: 440, outTone: 1000 });
      await s.events.waitFor(isEvent('StasisStart', call.channelId));
      const rin = await RtpCapture.open();
      const rout = await RtpCapture.open();
      const legIn = await startRecordingLeg(s.ari, s.events, { callId: call.channelId, spy: 'in', rtpPort: rin.port });
      const legOut = await startRecordingLeg(s.ari, s.events, { callId: call.channelId, spy: 'out', rtpPort: rout.port });
      await rin.waitForPackets(20);
      await rout.waitForPackets(20);
      const amp = (c: RtpCapture, f: number) => toneAmplitude(concatSamples(c.packets.slice(8, 20)), f, 16000);
      expect(amp(rin, 440)).toBeGreaterThan(5000);
      expect(amp(rin, 1000)).toBeLessThan(100);
      expect(amp(rout, 1000)).toBeGreaterThan(5000);
      expect(amp(rout, 440)).toBeLessThan(100);

      await s.driver.sendDtmf(call.channelId, '1');
      expect(await s.events.waitFor(isEvent('ChannelDtmfReceived', call.channelId))).toMatchObject({ digit: '1' });

      await s.driver.hangup(call.channelId);
      await s.events.waitFor(isEvent('ChannelDestroyed', call.channelId));
      await s.events.waitFor(isEvent('StasisEnd', legIn.snoop.id));
      // what a product that forgot to clean up would leave: the externalMedia channels and their bridges
      const left = await s.driver.listLeftovers();
      expect(left.channels.map((c) => c.id).sort()).toEqual([legIn.em.id, legOut.em.id].sort());
      expect(left.bridges.map((b) => b.id).sort()).toEqual([legIn.bridge.id, legOut.bridge.id].sort());
      for (const leg of [legIn, legOut]) {
        await s.ari.request('DELETE', `/channels/${leg.em.id}`);
        await s.ari.request('DELETE', `/bridges/${leg.bridge.id}`);
      }
      expect(await s.driver.listLeftovers()).toEqual({ channels: [], bridges: [] });
      rin.close();
      rout.close();
    });

    it('ConfBridge conference: participants join and leave; the bridge refuses externalMedia', async () => {
      const conf = await s.driver.startConference({ name: 'room7', kind: 'confbridge' });
      const p1 = await s.driver.joinConference(conf, { tone: 440 });
      await s.driver.joinConference(conf, { tone: 700 });
      const bridgeId = await s.driver.conferenceBridgeId(conf);
      const waitMembers = async (n: number) => {
        for (let i = 0; i < 50; i++) {
          const b = await s.ari.request<{ channels: string[] }>('GET', `/bridges/${bridgeId}`);
          if (b.status === 200 && b.body.channels.length === n) return b.body.channels;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`bridge never had ${n} members`);
      };
      expect(await waitMembers(2)).toContain(p1.channelId);
      await s.driver.leaveConference(p1.channelId);
      expect(await waitMembers(1)).not.toContain(p1.channelId);
      // leftovers ignore non-Stasis (ConfBridge) bridges
      expect((await s.driver.listLeftovers()).bridges).toEqual([]);
    });

    it('ARI mixing-bridge conference: participants are added to the bridge the driver created', async () => {
      const conf = await s.driver.startConference({ name: 'room8', kind: 'ari' });
      const p1 = await s.driver.joinConference(conf, { tone: 440 });
      const p2 = await s.driver.joinConference(conf, { tone: 1000 });
      await s.events.waitFor((e) => e.type === 'ChannelEnteredBridge' && (e.channel as { id: string }).id === p2.channelId);
      const b = await s.ari.request<{ channels: string[]; technology: string }>('GET', `/bridges/${conf.bridgeId}`);
      expect(b.body.channels.sort()).toEqual([p1.channelId, p2.channelId].sort());
      expect((await s.driver.listLeftovers()).bridges).toEqual([]);
      await s.driver.leaveConference(p1.channelId);
      await s.driver.leaveConference(p2.channelId);
    });
  });
}

describe('createDriver', () => {
  it('starts a simulator unless ARI_URL is set', async () => {
    const d = await createDriver({}, {});
    expect(d.kind).toBe('sim');
    expect(d.ariUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await d.close();
    const real = await createDriver({}, { ARI_URL: 'http://10.0.0.1:8088/ari/', ARI_USER: 'u', ARI_PASSWORD: 'p', ARI_APP: 'rec' });
    expect(real).toMatchObject({ kind: 'asterisk', ariUrl: 'http://10.0.0.1:8088', ariUser: 'u', ariPassword: 'p', app: 'rec' });
  });
});
