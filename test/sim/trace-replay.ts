/**
 * Replays a captured ARI HTTP trace (`traces/http-<scenario>.jsonl` of ../shared/asterisk) against the
 * simulator, with the original timing, mapping Asterisk's ids to the simulator's, and normalises event
 * streams so the simulator's events can be compared with the captured ones. Used only by the conformance
 * test; the traces themselves are read from ../shared at test time, never copied into the project.
 */
import { readFileSync } from 'node:fs';
import type { AriSimulator } from './simulator.js';
import { AriTestClient, type EventCollector, chId, isEvent, sleep } from './harness.js';
import type { AriEvent } from './types.js';

export interface HttpTraceLine {
  t_ms: number;
  method: string;
  path: string;
  query: Record<string, string>;
  request_body: unknown;
  status: number;
  reason: string;
  content_type: string | null;
  response_body: unknown;
  response_is_text?: boolean;
  note?: string;
}

export interface ReplayResult {
  line: HttpTraceLine;
  status: number;
  reason: string;
  body: unknown;
}

export function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** Two-way mapping between the trace's ids/names and the simulator's. */
export class IdMap {
  readonly traceToSim = new Map<string, string>();
  readonly simToTrace = new Map<string, string>();

  add(traceValue: unknown, simValue: unknown): void {
    if (typeof traceValue !== 'string' || typeof simValue !== 'string' || !traceValue || !simValue) return;
    this.traceToSim.set(traceValue, simValue);
    this.simToTrace.set(simValue, traceValue);
  }

  /** Maps the ids/names found in two equivalent response bodies (channel, bridge, playback or lists of them). */
  learn(traceBody: unknown, simBody: unknown): void {
    if (Array.isArray(traceBody) && Array.isArray(simBody)) {
      traceBody.forEach((t, i) => {
        const byName = simBody.find((s) => isObj(s) && isObj(t) && t.name && s.name === t.name);
        this.learn(t, byName ?? simBody[i]);
      });
      return;
    }
    if (!isObj(traceBody) || !isObj(simBody)) return;
    this.add(traceBody.id, simBody.id);
    if (typeof traceBody.name === 'string' && typeof simBody.name === 'string' && traceBody.name.includes('/')) {
      this.add(traceBody.name, simBody.name);
      if (traceBody.name.endsWith(';1') && simBody.name.endsWith(';1')) this.add(`${traceBody.name.slice(0, -1)}2`, `${simBody.name.slice(0, -1)}2`);
    }
  }

  toSim(v: string): string {
    return v.split(',').map((p) => this.traceToSim.get(p) ?? p).join(',');
  }

  toTrace(v: string): string {
    return v.split(',').map((p) => this.simToTrace.get(p) ?? p).join(',');
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ReplayOptions {
  sim: AriSimulator;
  events: EventCollector;
  lines: HttpTraceLine[];
  ids: IdMap;
  /** replaces a request the simulator cannot run as such (dialplan-originated calls); returns the response body */
  intercept?: (line: HttpTraceLine) => Promise<unknown> | null;
  /** shortens idle gaps longer than this (the capture often waited seconds while "recording") */
  maxGapMs?: number;
}

/** Sends every request at its original time; returns what the simulator answered. */
export async function replayHttpTrace(o: ReplayOptions): Promise<ReplayResult[]> {
  const { sim, events, lines, ids } = o;
  const ari = new AriTestClient(sim.url, sim.username, sim.password);
  const results: ReplayResult[] = [];
  const t0 = Date.now();
  let lastSent = t0;
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    // the capture's timing, but never a shorter gap than captured (a slow, loaded host must not compress
    // the time Asterisk had between two requests); long idle gaps may be shortened to maxGapMs
    const gap = Math.min(i === 0 ? line.t_ms : line.t_ms - lines[i - 1].t_ms, o.maxGapMs ?? Infinity);
    at += gap;
    const wait = Math.max(t0 + at, lastSent + gap) - Date.now();
    if (wait > 0) await sleep(wait);
    lastSent = Date.now();
    const intercepted = o.intercept?.(line);
    if (intercepted) {
      const body = await intercepted;
      ids.learn(line.response_body, body);
      results.push({ line, status: line.status, reason: line.reason, body });
      continue;
    }
    const path = line.path.replace(/^\/ari/, '').split('/').map((seg) => ids.toSim(decodeURIComponent(seg))).map(encodeURIComponent).join('/');
    const query = Object.fromEntries(Object.entries(line.query).map(([k, v]) => [k, ids.toSim(v)]));
    forceRace(sim, lines, i);
    if (line.path.endsWith('/addChannel') && line.status === 204 && query.channel) {
      // the capturing client waited for StasisStart before adding; do the same
      for (const id of query.channel.split(',')) await events.waitFor(isEvent('StasisStart', id), 2000).catch(() => undefined);
    }
    const client = line.note === 'no auth' ? null : line.note === 'bad password' ? new AriTestClient(sim.url, sim.username, 'wrong-password') : ari;
    let res: { status: number; reason: string; body: unknown };
    if (!client) {
      const r = await fetch(`${sim.url}/ari${path}`, { method: line.method });
      const text = await r.text();
      res = { status: r.status, reason: r.statusText, body: text ? (JSON.parse(text) as unknown) : null };
    } else {
      res = await client.request(line.method, path, query, line.request_body ?? undefined);
    }
    if (res.status === line.status) ids.learn(line.response_body, res.body);
    results.push({ line, ...res });
  }
  return results;
}

/**
 * Makes the snoop/externalMedia StasisStart race come out as it did in the capture: if the trace's addChannel
 * with this channel got 422, the simulator delays that channel's StasisStart; otherwise it is immediate.
 */
function forceRace(sim: AriSimulator, lines: HttpTraceLine[], i: number): void {
  const line = lines[i];
  const isSnoop = /\/snoop(\/|$)/.test(line.path);
  const isEm = line.path === '/ari/channels/externalMedia';
  if (!(isSnoop || isEm) || line.status !== 200 || !isObj(line.response_body)) return;
  const id = String(line.response_body.id);
  const add = lines.slice(i + 1).find((l) => l.path.endsWith('/addChannel') && (l.query.channel ?? '').split(',').includes(id));
  const lost = add?.status === 422;
  if (isSnoop) sim.setRace({ snoopStasisDelayMs: lost ? 40 : 0 });
  else sim.setRace({ externalMediaStasisDelayMs: lost ? 40 : 0, externalMediaRaceProbability: 1 });
}

/** A comparable key for an event: type plus the fields that matter, ids and names in trace space. */
export function eventKey(e: AriEvent, toTrace: (v: string) => string): string {
  const parts: string[] = [e.type];
  if (e.type === 'ChannelVarset') {
    const value = String(e.value);
    parts.push(`${String(e.variable)}=${e.variable === 'BRIDGEPEER' ? toTrace(value).split(',').sort().join(',') : value}`);
  }
  for (const f of ['cause', 'soft', 'dialstatus', 'dialplan_app', 'digit'] as const) if (f in e) parts.push(`${f}=${String(e[f])}`);
  if (Array.isArray(e.args)) parts.push(`args=${(e.args as unknown[]).join('|')}`);
  const ch = (e.channel ?? e.peer) as { state?: string } | undefined;
  if (ch?.state) parts.push(`state=${ch.state}`);
  const b = e.bridge as { id?: string; technology?: string; bridge_class?: string } | undefined;
  if (b) parts.push(`bridge=${toTrace(b.id ?? '')}/${b.technology}/${b.bridge_class}`);
  const pb = e.playback as { id?: string; state?: string } | undefined;
  if (pb) parts.push(`playback=${toTrace(pb.id ?? '')}/${pb.state}`);
  return parts.join(' ');
}

/** The subject of an event: the channel's name (in trace space), else the bridge or playback id. */
export function eventSubject(e: AriEvent, toTrace: (v: string) => string): string {
  const ch = (e.channel ?? e.peer) as { name?: string } | undefined;
  if (ch?.name) return `channel:${toTrace(ch.name)}`;
  const b = e.bridge as { id?: string } | undefined;
  if (b?.id) return `bridge:${toTrace(b.id)}`;
  const pb = e.playback as { id?: string } | undefined;
  return `playback:${toTrace(pb?.id ?? '')}`;
}

/**
 * Per subject (channel, bridge, playback), the ordered event keys. Repeated BRIDGEPEER values are dropped
 * (Asterisk's softmix re-sets the same value whenever anything happens in the bridge).
 */
export function sequencesBySubject(evs: AriEvent[], subject: (e: AriEvent) => string, key: (e: AriEvent) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lastPeer = new Map<string, string>();
  for (const e of evs) {
    const s = subject(e);
    if (e.type === 'ChannelVarset' && e.variable === 'BRIDGEPEER') {
      const v = key(e);
      if (lastPeer.get(s) === v) continue;
      lastPeer.set(s, v);
    }
    const list = out.get(s) ?? [];
    list.push(key(e));
    out.set(s, list);
  }
  return out;
}

export { chId };
