/** /asterisk, /applications, /playbacks. */
import { AriError } from '../errors.js';
import type { AsteriskEngine } from '../engine.js';
import { asteriskTimestamp } from '../time.js';
import type { ApplicationJson } from '../types.js';
import { type HandlerTable, noContent, ok } from './types.js';

function application(engine: AsteriskEngine, name: string): ApplicationJson {
  return {
    name,
    channel_ids: [...engine.channels.values()].filter((c) => c.alive && (c.stasis?.app === name || c.subs.has(name))).map((c) => c.id),
    bridge_ids: [...engine.bridges.values()].filter((b) => b.apps.has(name) || b.subs.has(name)).map((b) => b.id),
    endpoint_ids: [],
    device_names: [],
    events_allowed: [],
    events_disallowed: [],
  };
}

/** The event source schemes res_stasis registers (channel, bridge, endpoint from app.c; deviceState from res_stasis_device_state). */
const SCHEMES = ['channel:', 'bridge:', 'endpoint:', 'deviceState:'] as const;

/**
 * POST/DELETE /applications/{app}/subscription, as res/ari/resource_applications.c and res_stasis.c's
 * app_handle_subscriptions() answer: sources are handled in order and an error stops there (earlier ones stay
 * done). `bridge:` finds only bridges made by ARI (stasis_app_bridge_find_by_id looks in app_bridges), so a
 * dialplan ConfBridge is "Event source does not exist" exactly like an unknown id; `channel:` finds any channel
 * by id or name (ast_channel_get_by_name), in Stasis or not. Subscriptions count interest like app.c's forwards.
 */
function subscription(engine: AsteriskEngine, appName: string, raw: string | undefined, subscribe: boolean): ApplicationJson {
  const sources = (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  if (sources.length === 0) throw new AriError(400, 'Bad Request', 'Missing parameter eventSource');
  if (!engine.bus.isRegistered(appName)) throw new AriError(404, 'Not Found', 'Application not found');
  for (const uri of sources) {
    const scheme = SCHEMES.find((sc) => uri.startsWith(sc));
    if (!scheme) throw new AriError(400, 'Bad Request', 'Invalid event source URI scheme');
    const id = uri.slice(scheme.length);
    if (subscribe) {
      const target =
        scheme === 'channel:'
          ? (engine.channel(id) ?? [...engine.channels.values()].find((c) => c.alive && c.name === id))
          : scheme === 'bridge:'
            ? [engine.bridges.get(id)].find((b) => b?.bridgeClass === 'stasis' || (!!b && engine.cfg.subscribableBridges === 'all'))
            : undefined; // no endpoints or device states are simulated
      if (!target) throw new AriError(422, 'Unprocessable Entity', 'Event source does not exist');
      target.subs.set(appName, (target.subs.get(appName) ?? 0) + 1);
    } else {
      const target = scheme === 'channel:' ? engine.channel(id) : scheme === 'bridge:' ? engine.bridges.get(id) : undefined;
      const implicit = !!target && target.apps.has(appName);
      if (!target || (!target.subs.has(appName) && !implicit)) {
        throw new AriError(422, 'Unprocessable Entity', 'Event source was not subscribed to');
      }
      const n = target.subs.get(appName) ?? 0;
      if (n > 1) target.subs.set(appName, n - 1);
      else if (n === 1) target.subs.delete(appName);
      else target.apps.delete(appName); // the only interest was the Stasis one: app.c drops it as well
    }
  }
  return application(engine, appName);
}

export const miscHandlers: HandlerTable = {
  'applications.subscribe': ({ engine, params }) => ok(subscription(engine, params.applicationName ?? '', params.eventSource, true)),
  'applications.unsubscribe': ({ engine, params }) => ok(subscription(engine, params.applicationName ?? '', params.eventSource, false)),
  'asterisk.getInfo': ({ engine, params }) => {
    const started = asteriskTimestamp(engine.startupTime);
    const all: Record<string, unknown> = {
      build: { os: 'Linux', kernel: 'ari-simulator', machine: 'x86_64', options: 'OPTIONAL_API', date: started, user: 'sim' },
      system: { version: '22.10.1', entity_id: engine.cfg.asteriskId },
      config: { name: engine.cfg.systemName, default_language: 'en', setid: { user: '', group: '' } },
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
