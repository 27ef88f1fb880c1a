import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AriHttpError, AriRest } from '../../src/ari/ari-rest.js';
import { createHttpHarness, TOKENS, type HttpHarness } from '../helpers/fakes.js';
import { startSimSession, stopSimSession } from '../sim/harness.js';

/** Ids are checked before they reach ARI or Redis: `.`, `..`, `/`, controls never name another resource. */
describe('hostile ids', () => {
  let h: HttpHarness;
  let s: Awaited<ReturnType<typeof startSimSession>>;
  beforeAll(async () => {
    h = await createHttpHarness();
    s = await startSimSession({});
  });
  afterAll(async () => {
    await h?.close();
    await stopSimSession(s ?? {});
  });

  it.each(['%2E', '%2E%2E', '.', 'a%2Fb', 'a%00b', 'a%0Ab', 'a%20b', '%E2%80%AE'])('the API refuses id %s with a 400/404 and a code', async (id) => {
    for (const url of [`/v1.0/calls/${id}`, `/v1.0/conferences/${id}/recording_start`, `/v1.0/recordings/${id}`, `/v1.0/recordings/${id}/file`]) {
      const method = url.endsWith('recording_start') ? 'POST' : 'GET';
      const res = await h.app.inject({ method, url, headers: { authorization: `Bearer ${TOKENS.aAll}` } });
      expect([400, 404], url).toContain(res.statusCode);
      expect(res.json().code, url).toMatch(/^(validation_failed|not_found|recording_not_found)$/);
    }
  });

  it('the ARI client never lets an id collapse the path: `..` is a channel Asterisk does not know (404), not GET /ari/', async () => {
    const rest = new AriRest({ url: s.sim.url, username: s.sim.username, password: s.sim.password });
    for (const id of ['..', '.', '../asterisk/info', 'a/b']) {
      const err = await rest.getChannel(id).catch((e: unknown) => e);
      expect(err, id).toBeInstanceOf(AriHttpError);
      expect((err as AriHttpError).status, id).toBe(404);
    }
    const paths = s.sim.requestLog.map((r) => r.path);
    expect(paths.every((p) => p.startsWith('/ari/channels/'))).toBe(true);
  });
});
