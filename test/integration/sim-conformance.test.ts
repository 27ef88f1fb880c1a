/**
 * Conformance of the ARI simulator with the real Asterisk 22.10.1 captured in ../shared/asterisk:
 * - every simulated operation exists in the swagger with the same method and path, its parameters are a
 *   subset of the swagger's, required flags and enumerations agree; the resource path table is the swagger's;
 * - the error cases of traces/http-errors.jsonl replayed against the simulator give the same status, reason
 *   and body;
 * - scenario HTTP traces replayed against the simulator (same requests, same timing) give the same statuses
 *   and, per channel/bridge/playback, the same sequence of events (type and key fields) as captured.
 * Runs whenever ../shared/asterisk exists (it does on the development machine; a user's clone has no ../shared).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { AriTestClient } from '../sim/harness.js';
import { OPERATIONS, RESOURCE_PATHS } from '../sim/params.js';
import { type AriSimulator, startAriSimulator } from '../sim/index.js';
import {
  type HttpTraceLine,
  IdMap,
  eventKey,
  eventSubject,
  readJsonl,
  replayHttpTrace,
  sequencesBySubject,
} from '../sim/trace-replay.js';
import type { AriEvent, ChannelJson } from '../sim/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = resolve(here, '../../../shared/asterisk');
const API = join(SHARED, 'api-docs');
const TRACES = join(SHARED, 'traces');
const hasShared = existsSync(join(API, 'resources.json')) && existsSync(TRACES);

interface SwaggerParam {
  name: string;
  paramType: string;
  required?: boolean;
  allowMultiple?: boolean;
  allowableValues?: { values?: string[] };
}
interface SwaggerOp {
  httpMethod: string;
  nickname: string;
  parameters?: SwaggerParam[];
}
interface SwaggerApi {
  path: string;
  operations: SwaggerOp[];
}

function swaggerApis(): SwaggerApi[] {
  const resources = JSON.parse(readFileSync(join(API, 'resources.json'), 'utf8')) as { apis: { path: string }[] };
  return resources.apis.flatMap((r) => {
    const file = r.path.split('/').pop()!.replace('.{format}', '.json');
    return (JSON.parse(readFileSync(join(API, file), 'utf8')) as { apis: SwaggerApi[] }).apis;
  });
}

describe.runIf(hasShared)('simulator vs swagger (api-docs)', () => {
  it('the resource path table is exactly the swagger paths and methods', () => {
    const fromSwagger = swaggerApis().map((a) => `${a.path} ${a.operations.map((o) => o.httpMethod).sort().join(' ')}`).sort();
    const ours = RESOURCE_PATHS.map(([p, m]) => `${p} ${m.split(' ').sort().join(' ')}`).sort();
    expect(ours).toEqual(fromSwagger);
  });

  for (const op of OPERATIONS) {
    it(`${op.id}: method, path, parameters ⊆ swagger, required and enums agree`, () => {
      const api = swaggerApis().find((a) => a.path === op.path);
      expect(api, `${op.path} in swagger`).toBeDefined();
      const sw = api!.operations.find((o) => o.httpMethod === op.method);
      expect(sw, `${op.method} ${op.path}`).toBeDefined();
      expect(sw!.nickname).toBe(op.id.split('.')[1]);
      const swParams = new Map((sw!.parameters ?? []).map((p) => [p.name, p]));
      for (const p of op.params) {
        const s = swParams.get(p.name);
        expect(s, `${op.id} parameter ${p.name}`).toBeDefined();
        expect(s!.paramType, `${op.id} ${p.name} location`).toBe(p.in);
        expect(!!s!.required, `${op.id} ${p.name} required`).toBe(!!p.required);
        expect(!!s!.allowMultiple, `${op.id} ${p.name} allowMultiple`).toBe(!!p.multiple);
        if (p.values) expect([...p.values].sort()).toEqual([...(s!.allowableValues?.values ?? [])].sort());
      }
      // every required swagger parameter is simulated
      for (const s of sw!.parameters ?? []) if (s.required) expect(op.params.map((p) => p.name)).toContain(s.name);
    });
  }
});

async function startWithEvents(audioDelayMs?: number): Promise<{ sim: AriSimulator; events: Awaited<ReturnType<AriTestClient['events']>> }> {
  // The first capture's ari.conf listed no channelvars (the second one's CUSTOMER_ID is checked in sim-channelvars).
  const sim = await startAriSimulator({ app: 'recorder', audioDelayMs, channelvars: [] });
  const client = new AriTestClient(sim.url, sim.username, sim.password);
  for (let i = 0; i < 5; i++) await client.request('GET', '/asterisk/info'); // warm up: the replay keeps the capture's timing
  const events = await client.events('recorder');
  return { sim, events };
}

/**
 * The replays run concurrently in one worker: on a loaded machine the last events can come after the tail.
 * The comparison is retried for a while (events only ever get appended, so waiting cannot hide a wrong one).
 */
function eventuallySameEvents(simEvents: AriEvent[], traceEvents: AriEvent[], ids: IdMap): Promise<void> {
  return vi.waitFor(() => compareEvents(simEvents, traceEvents, ids), { timeout: 5000, interval: 100 });
}

function compareEvents(simEvents: AriEvent[], traceEvents: AriEvent[], ids: IdMap): void {
  const id = (v: string) => v;
  const toTrace = (v: string) => ids.toTrace(v);
  const expected = sequencesBySubject(traceEvents, (e) => eventSubject(e, id), (e) => eventKey(e, id));
  const actual = sequencesBySubject(simEvents, (e) => eventSubject(e, toTrace), (e) => eventKey(e, toTrace));
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [subject, seq] of expected) expect(actual.get(subject), subject).toEqual(seq);
}

describe.runIf(hasShared)('error cases replayed from traces/http-errors.jsonl', () => {
  it.concurrent('same status, reason and body for every request; same events per channel', async () => {
    // the capture hung the call up 27 ms after originating it, before its dialplan reached Playback(); the replay
    // is not that fast, so the dialplan audio is held back longer than usual
    const { sim, events } = await startWithEvents(5000);
    try {
      const lines = readJsonl<HttpTraceLine>(join(TRACES, 'http-errors.jsonl'));
      const ids = new IdMap();
      const results = await replayHttpTrace({ sim, events, lines, ids });
      await new Promise((r) => setTimeout(r, 300));
      let checked = 0;
      for (const r of results) {
        const what = `${r.line.method} ${r.line.path} ${JSON.stringify(r.line.query)} ${r.line.note ?? ''}`;
        expect(r.status, what).toBe(r.line.status);
        expect(r.reason, what).toBe(r.line.reason);
        if (r.line.status >= 400) {
          expect(r.body, what).toEqual(r.line.response_body);
          checked++;
        } else if (Array.isArray(r.line.response_body)) {
          expect((r.body as unknown[]).length, what).toBe(r.line.response_body.length);
          const kinds = (b: unknown) => (b as ChannelJson[]).map((c) => c.name.split('/')[0]).sort();
          expect(kinds(r.body), what).toEqual(kinds(r.line.response_body));
        } else if (r.line.response_body && typeof r.line.response_body === 'object') {
          expect(Object.keys(r.body as object).sort(), what).toEqual(Object.keys(r.line.response_body).sort());
        }
      }
      expect(checked).toBeGreaterThan(25);
      const traceEvents = readJsonl<AriEvent>(join(TRACES, 'errors.jsonl'));
      await eventuallySameEvents(events.events, traceEvents, ids);
    } finally {
      events.close();
      await sim.close();
    }
  });
});

interface Scenario {
  name: string;
  intercept?: (sim: AriSimulator) => (line: HttpTraceLine) => Promise<unknown> | null;
  /** how long after the last request events keep coming in the capture */
  tailMs: number;
  /** idle gaps of the capture are shortened to this (not for scenarios whose dialplan runs on a timer) */
  maxGapMs?: number;
}

const endpointExten = (line: HttpTraceLine) => /^Local\/([^@]+)@/.exec(line.query.endpoint ?? '')?.[1] ?? 'tone440';

const SCENARIOS: Scenario[] = [
  { name: 'call-snoop-in-out', tailMs: 300, maxGapMs: 1000 },
  { name: 'call-snoop-externalmedia', tailMs: 300, maxGapMs: 1000 },
  // short440 hangs up 3.5 s after answer: keep the capture's timing
  { name: 'hangup-during-recording', tailMs: 300 },
  { name: 'ari-hangup-during-recording', tailMs: 300, maxGapMs: 1000 },
  { name: 'conference-bridge', tailMs: 300, maxGapMs: 1000 },
  { name: 'race-snoop-addchannel-before-stasisstart', tailMs: 300, maxGapMs: 1000 },
  { name: 'race-externalmedia-addchannel-before-stasisstart', tailMs: 300, maxGapMs: 1000 },
  {
    name: 'flow-start-continue',
    tailMs: 300,
    maxGapMs: 1000,
    // the capture originated into dialplan `flow/rec`, which runs Stasis(recorder,recording_start)
    intercept: (sim) => (line) =>
      line.method === 'POST' && line.path === '/ari/channels' && line.query.context === 'flow'
        ? sim.enterStasisFromDialplan({ exten: endpointExten(line) }, ['recording_start']).then((id) => sim.getChannel(id))
        : null,
  },
  {
    name: 'conference-confbridge',
    tailMs: 300,
    maxGapMs: 1000,
    // the capture originated into dialplan `conf/join`, which runs ConfBridge(conf1)
    intercept: (sim) => (line) =>
      line.method === 'POST' && line.path === '/ari/channels' && line.query.context === 'conf'
        ? sim.joinConfBridge('conf1', { exten: endpointExten(line) }).then((id) => sim.getChannel(id))
        : null,
  },
];

describe.runIf(hasShared)('scenario traces replayed against the simulator', () => {
  for (const sc of SCENARIOS) {
    it.concurrent(`${sc.name}: same statuses and the same events per channel, bridge and playback`, async () => {
      const { sim, events } = await startWithEvents();
      try {
        const lines = readJsonl<HttpTraceLine>(join(TRACES, `http-${sc.name}.jsonl`));
        const ids = new IdMap();
        const results = await replayHttpTrace({ sim, events, lines, ids, intercept: sc.intercept?.(sim), maxGapMs: sc.maxGapMs });
        await new Promise((r) => setTimeout(r, sc.tailMs));
        for (const r of results) expect(r.status, `${r.line.method} ${r.line.path}`).toBe(r.line.status);
        await eventuallySameEvents(events.events, readJsonl<AriEvent>(join(TRACES, `${sc.name}.jsonl`)), ids);
      } finally {
        events.close();
        await sim.close();
      }
    });
  }
});

