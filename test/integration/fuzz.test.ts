import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goertzelDb } from '../helpers/audio-analysis.js';
import { tonePacket } from '../helpers/rtp-sender.js';
import { CUSTOMER_A, sleep, startHarness, TOKENS, type Harness } from '../e2e/harness.js';
import { makeRng } from '../sim/impairments.js';

/**
 * A standing fuzz run, seeded and reproducible (FUZZ_SEED=<n> to replay one): thousands of hostile HTTP requests on
 * every route, and hostile RTP datagrams on every port of the range before and during a recording. Nothing may crash
 * the daemon, answer 5xx, put foreign audio in a file, or show a token (in answers and logs) or an internal path
 * (in answers).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const HTTP_REQUESTS = 2000;
const RTP_DATAGRAMS = 10_000;
// hostile datagrams go to every port of this range: one no other test picks (theirs are random from 30000 up),
// out of the kernel's ephemeral ports
const RTP_MIN = 27200;
const RTP_MAX = 27299;

describe(`fuzz (seed ${SEED})`, () => {
  let h: Harness;
  const log: string[] = [];
  const rand = makeRng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  beforeAll(async () => {
    h = await startHarness(
      { RTP_PORT_MIN: String(RTP_MIN), RTP_PORT_MAX: String(RTP_MAX), AUTH_FAILURES_PER_MINUTE: '1000000', EXPORTS_PER_MINUTE: '1000000' },
      { driver: 'simulator', logSink: (line) => log.push(line) },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it(`${HTTP_REQUESTS} hostile HTTP requests: no crash, no 5xx, no token or internal path in any answer or log line`, async () => {
    const call = await h.driver.placeCall({ inTone: 440 });
    const rec = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
    expect(rec.status).toBe(200);
    const ids = [
      call.channelId, rec.body.recording_id, '..', '.', '%2E%2E', '%2e.', '..%2F..%2Fetc%2Fpasswd', 'a%00b', '%0d%0aSet-Cookie:x', 'x'.repeat(101),
      'x'.repeat(5000), '%E2%80%AE', '%F0%9F%98%80', "1' OR '1'='1", '${jndi:ldap://x}', '<script>', 'rec-00000000-0000-0000-0000-000000000000-em-in',
      'cust-a:status:available', '%25', '%', '-1', '0', 'null', '[]', '{}',
    ];
    const paths = [
      (id: string) => `/v1.0/calls/${id}`, (id: string) => `/v1.0/calls/${id}/recording_start`, (id: string) => `/v1.0/calls/${id}/recording_stop`,
      (id: string) => `/v1.0/conferences/${id}`, (id: string) => `/v1.0/conferences/${id}/recording_start`, (id: string) => `/v1.0/conferences/${id}/recording_stop`,
      (id: string) => `/v1.0/recordings/${id}`, (id: string) => `/v1.0/recordings/${id}/file`, (id: string) => `/v1.0/recordings/exports/${id}`,
      (id: string) => `/v1.0/recordings/exports/${id}/file`, () => '/v1.0/recordings', () => '/v1.0/recordings/export', () => '/v1.0/openapi.json',
      () => '/healthz', () => '/readyz', (id: string) => `/v1.0/${id}`, (id: string) => `/${id}`,
    ];
    const tokens = [TOKENS.a, TOKENS.b, TOKENS.readOnlyA, '', 'x', `${TOKENS.a}x`, TOKENS.a.toUpperCase(), 'Bearer', '\u0000', 'a'.repeat(10_000)];
    const queries = [
      '', '?page_size=0', '?page_size=-1', '?page_size=1e9', '?page_token=%00', '?page_token=' + 'z'.repeat(600), '?status=bogus', '?from=yesterday',
      `?token=${TOKENS.a}`, `?%74oken=${TOKENS.a}`, `?t%6Fken=${TOKENS.b}`, `?token=${TOKENS.a}&token=${TOKENS.b}`, `?token%00=${TOKENS.a}`, '?reference_type=x',
    ];
    const bodies = [
      undefined, '', '{', '{"format":', 'null', '[]', '"x"', '{"format":"mp3"}', '{"duration":-1}', '{"duration":"5"}', '{"end_of_key":"##"}',
      '{"recording_ids":[]}', `{"recording_ids":${JSON.stringify(Array.from({ length: 5000 }, (_, i) => `r${i}`))}}`, '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{"x":1}}}', JSON.stringify({ a: 'x'.repeat(300_000) }), '{"recording_ids":["../../x"]}', '\u0000\u0001',
    ];
    const ranges = ['bytes=0-0', 'bytes=-1', 'bytes=999999999-', 'bytes=5-2', 'bytes=0-1,2-3', 'bits=0-1', 'bytes=', 'bytes=-0', 'bytes=0-99999999999999999999'];
    const statuses = new Map<number, number>();
    for (let i = 0; i < HTTP_REQUESTS; i++) {
      const method = pick(['GET', 'POST', 'DELETE', 'HEAD', 'PUT', 'PATCH', 'OPTIONS'] as const);
      const path = pick(paths)(pick(ids)) + pick(queries);
      const headers: Record<string, string> = {};
      const token = pick(tokens);
      if (rand() < 0.8 && !/[\u0000]/.test(token)) headers.authorization = `${pick(['Bearer', 'bearer', 'Basic', 'Token'])} ${token}`;
      if (rand() < 0.2) headers.range = pick(ranges);
      const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies);
      if (body !== undefined) headers['content-type'] = pick(['application/json', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data']);
      let res: Response;
      try {
        res = await fetch(`${h.app.url}${path}`, { method, headers, body });
      } catch (err) {
        // a URL fetch itself refuses to send (e.g. a control character) never reached the daemon
        if (err instanceof TypeError && /Invalid|URL|header/i.test(String(err.message) + String((err as { cause?: Error }).cause?.message))) continue;
        throw err;
      }
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${method} ${path} (seed ${SEED}, request ${i})`).toBeLessThan(500);
      for (const secret of [TOKENS.a, TOKENS.b, TOKENS.readOnlyA]) expect(text, `${method} ${path}`).not.toContain(secret);
      expect(text, `${method} ${path}`).not.toContain(h.dir);
      expect(text).not.toMatch(/\/(?:spool|recordings)\/[^"\s]*\.wav|at \w+ \(|node_modules/);
    }
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(HTTP_REQUESTS * 0.95);
    // the run reached past authentication and validation, not only the front door
    for (const [s, min] of [[200, 10], [400, 10], [401, 10], [403, 1], [404, 10]]) {
      expect(statuses.get(s) ?? 0, `status ${s} in ${JSON.stringify([...statuses])}`).toBeGreaterThanOrEqual(min);
    }
    // still alive, still recording
    expect((await fetch(`${h.app.url}/healthz`)).status).toBe(200);
    expect((await h.json('GET', `/v1.0/recordings/${rec.body.recording_id}`)).body.status).toBe('recording');
    expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
    await h.waitForStatus(rec.body.recording_id, 'available');
    const lines = log.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of [TOKENS.a, TOKENS.b, TOKENS.readOnlyA]) expect(lines).not.toContain(secret);
  });

  it(`${RTP_DATAGRAMS} hostile RTP datagrams before and during a recording: the file holds the call and nothing else`, async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let sent = 0;
    const datagram = (i: number): Buffer => {
      const kind = Math.floor(rand() * 6);
      const h0 = { seq: Math.floor(rand() * 65536), timestamp: Math.floor(rand() * 2 ** 32), ssrc: Math.floor(rand() * 2 ** 32) };
      switch (kind) {
        case 0: // garbage
          return Buffer.from(Array.from({ length: Math.floor(rand() * 1400) }, () => Math.floor(rand() * 256)));
        case 1: // a valid slin16 frame of a 3 kHz tone, as the call's own would look
          return tonePacket(i, h0, 3000, 16000);
        case 2: // wrong payload type
          return tonePacket(i, { ...h0, payloadType: Math.floor(rand() * 128) }, 3000, 16000);
        case 3: // truncated
          return tonePacket(i, h0, 3000, 16000).subarray(0, Math.floor(rand() * 652));
        case 4: // padded/oversized
          return Buffer.concat([tonePacket(i, h0, 3000, 16000), Buffer.alloc(Math.floor(rand() * 800), 0x7f)]);
        default: // RTCP-looking, version 3, CSRC/extension bits
          return Buffer.from([0x80 | Math.floor(rand() * 0x40), 200 + Math.floor(rand() * 8), ...Array.from({ length: 30 }, () => Math.floor(rand() * 256))]);
      }
    };
    const flood = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const port = RTP_MIN + Math.floor(rand() * (RTP_MAX - RTP_MIN + 1));
        sock.send(datagram(i), port, '127.0.0.1');
        sent++;
        if (i % 250 === 249) await sleep(20);
      }
    };
    try {
      await flood(RTP_DATAGRAMS / 2); // before: every port may be hit before it is handed out
      const call = await h.driver.placeCall({ inTone: 440, outTone: 1000 });
      const start = await h.json('POST', `/v1.0/calls/${call.channelId}/recording_start`);
      expect(start.status).toBe(200);
      await flood(RTP_DATAGRAMS / 2); // during
      await sleep(500);
      expect((await h.json('POST', `/v1.0/calls/${call.channelId}/recording_stop`)).status).toBe(200);
      const rec = await h.waitForStatus(start.body.recording_id, 'available');
      expect(sent).toBe(RTP_DATAGRAMS);
      expect(rec.customer_id).toBe(CUSTOMER_A);
      const wav = await h.wav(rec.id);
      const steady = wav.samples.subarray(6000, wav.samples.length - 800);
      const l440 = goertzelDb(steady, 8000, 440);
      const l1000 = goertzelDb(steady, 8000, 1000);
      expect(Math.abs(l440 - l1000)).toBeLessThan(1.5);
      expect(goertzelDb(wav.samples, 8000, 3000)).toBeLessThan(Math.min(l440, l1000) - 60);
      expect((await fetch(`${h.app.url}/healthz`)).status).toBe(200);
    } finally {
      sock.close();
    }
  });
});
