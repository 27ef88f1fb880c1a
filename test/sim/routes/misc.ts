/** /asterisk, /applications, /playbacks. */
import { AriError } from '../errors.js';
import type { AsteriskEngine } from '../engine.js';
import { asteriskTimestamp } from '../time.js';
import type { ApplicationJson } from '../types.js';
import { type HandlerTable, noContent, ok } from './types.js';

function application(engine: AsteriskEngine, name: string): ApplicationJson {
  return {
    name,
    channel_ids: [...engine.channels.values()].filter((c) => c.alive && c.stasis?.app === name).map((c) => c.id),
    bridge_ids: [...engine.bridges.values()].filter((b) => b.apps.has(name)).map((b) => b.id),
    endpoint_ids: [],
    device_names: [],
    events_allowed: [],
    events_disallowed: [],
  };
}

export const miscHandlers: HandlerTable = {
  'asterisk.getInfo': ({ engine, params }) => {
    const started = asteriskTimestamp(engine.startupTime);
    const all: Record<string, unknown> = {
      build: { os: 'Linux', kernel: 'ari-simulator', machine: 'x86_64', options: 'OPTIONAL_API', date: started, user: 'sim' },
      system: { version: '22.10.1', entity_id: engine.cfg.asteriskId },
      config: { name: '', default_language: 'en', setid: { user: '', group: '' } },
      status: { startup_time: started, last_reload_time: started },
    };
    if (!params.only) return ok(all);
    const only = new Set(params.only.split(','));
    return ok(Object.fromEntries(Object.entries(all).filter(([k]) => only.has(k))));
  },
  'asterisk.ping': ({ engine }) => ok({ asterisk_id: engine.cfg.asteriskId, ping: 'pong', timestamp: asteriskTimestamp() }),
  'asterisk.getGlobalVar': ({ engine, params }) => {
    if (!params.variable) throw new AriError(400, 'Bad Request', 'Variable name is required');
    return ok({ value: engine.globals.get(params.variable) ?? '' });
  },
  'asterisk.setGlobalVar': ({ engine, params }) => {
    if (!params.variable) throw new AriError(400, 'Bad Request', 'Variable name is required');
    return noContent(() => engine.setGlobal(params.variable!, params.value ?? ''));
  },
  'applications.list': ({ engine }) => ok(engine.bus.registeredApps().map((a) => application(engine, a))),
  'applications.get': ({ engine, params }) => {
    const name = params.applicationName ?? '';
    if (!engine.bus.isRegistered(name)) throw new AriError(404, 'Not Found', 'Application not found');
    return ok(application(engine, name));
  },
  'playbacks.get': ({ engine, params }) => {
    const pb = engine.playbacks.get(params.playbackId ?? '');
    if (!pb) throw new AriError(404, 'Not Found', 'Playback not found');
    return ok(pb.toJson());
  },
  'playbacks.stop': ({ engine, params }) => {
    const pb = engine.playbacks.get(params.playbackId ?? '');
    if (!pb) throw new AriError(404, 'Not Found', 'Playback not found');
    return noContent(() => engine.finishPlayback(pb, 'done'));
  },
};
