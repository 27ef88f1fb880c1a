import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { parsePrometheusText } from '../helpers/prom-text.js';
import { tonePacket } from '../helpers/rtp-sender.js';
import { sleep, startHarness, type Harness } from '../e2e/harness.js';

/**
 * An attacker on the network floods every port of the RTP range with valid slin16 RTP (PT 118, a 3 kHz tone)
 * before and during a recording. Only the source Asterisk announced for each externalMedia channel is accepted:
 * the file holds the call and nothing of the attacker, and the refused packets are counted: by the recording when
 * its streams have ports of their own, by the worker (the foreign-packets metric) on a shared socket, where a
 * datagram from a source nobody announced belongs to no recording.
 */
describe.each([
  { mode: 'shared sockets', streams: '512' },
  { mode: 'a socket per stream', streams: '0' },
])('RTP hijack attempt ($mode)', ({ streams }) => {
  let h: Harness;
  beforeAll(async () => {
    // A range no other test picks (theirs are random from 30000 up) and out of the kernel's ephemeral ports: the
    // flood below must hit this daemon only, never a test running beside it.
    h = await startHarness({ RTP_PORT_MIN: '27000', RTP_PORT_MAX: '27099', RTP_SHARED_SOCKET_STREAMS: streams }, { driver: 'simulator' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a flood of valid RTP on every port never reaches the file', async () => {
    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    let i = 0;
    let sent = 0;
    const flood = setInterval(() => {
      for (let port = 27000; port <= 27099; port += 2) {
        attacker.send(tonePacket(i, { seq: i, timestamp: 320 * (i + 1), ssrc: 0xbad }, 3000, 16000), port, '127.0.0.1');
        sent++;
      }
      i++;
    }, 20);
    try {
      await sleep(500); // before the recording: every port is already being hit
      const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
      const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
      expect(start.status).toBe(200);
      await sleep(3000);
      expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
      const rec = await h.waitForStatus(start.body.recording_id, 'available');
      expect(sent).toBeGreaterThan(5000);
      if (streams === '0') {
        expect(rec.quality?.packets_foreign).toBeGreaterThan(100);
      } else {
        expect(rec.quality?.packets_foreign).toBe(0);
        const metrics = parsePrometheusText(await (await fetch(`${h.app.url}/metrics`)).text());
        expect(metrics.value('ari_recorder_rtp_packets_foreign_total')).toBeGreaterThan(100);
      }
      expect(rec.no_audio).toBe(false);
      const wav = await h.wav(rec.id);
      const steady = wav.samples.subarray(8000, wav.samples.length - 800);
      const l440 = goertzelDb(steady, 8000, 440);
      const l1000 = goertzelDb(steady, 8000, 1000);
      expect(Math.abs(l440 - l1000)).toBeLessThan(1.5);
      // nothing of the attacker's 3 kHz (the decimator would keep it: it is in the passband)
      expect(goertzelDb(wav.samples, 8000, 3000)).toBeLessThan(Math.min(l440, l1000) - 60);
    } finally {
      clearInterval(flood);
      attacker.close();
    }
  });
});
