/** /bridges: create, list, get, destroy, addChannel, removeChannel. */
import { AriError, bridgeNotFound } from '../errors.js';
import type { AsteriskEngine } from '../engine.js';
import type { SimBridge, SimChannel } from '../model.js';
import { type HandlerTable, noContent, ok } from './types.js';

function stasisBridge(engine: AsteriskEngine, id: string): SimBridge {
  const b = engine.bridges.get(id);
  if (!b) throw bridgeNotFound();
  if (b.bridgeClass !== 'stasis') throw new AriError(409, 'Conflict', 'Bridge not in Stasis application');
  return b;
}

function channelList(engine: AsteriskEngine, raw: string | undefined): SimChannel[] {
  const ids = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new AriError(400, 'Bad Request', 'Missing parameter channel');
  return ids.map((id) => {
    const ch = engine.channel(id);
    if (!ch) throw new AriError(400, 'Bad Request', 'Channel not found');
    if (!ch.stasis) throw new AriError(422, 'Unprocessable Entity', 'Channel not in Stasis application');
    return ch;
  });
}

export const bridgeHandlers: HandlerTable = {
  'bridges.list': ({ engine }) => ok([...engine.bridges.values()].map((b) => b.toJson())),
  'bridges.create': ({ engine, params }) => ok(engine.createBridge({ id: params.bridgeId, type: params.type, name: params.name }).toJson()),
  'bridges.createWithId': ({ engine, params }) => ok(engine.createBridge({ id: params.bridgeId, type: params.type, name: params.name }).toJson()),
  'bridges.get': ({ engine, params }) => {
    const b = engine.bridges.get(params.bridgeId ?? '');
    if (!b) throw bridgeNotFound();
    return ok(b.toJson());
  },
  'bridges.play': ({ engine, params }) => {
    const b = stasisBridge(engine, params.bridgeId ?? '');
    const pb = engine.playOnBridge(b, (params.media ?? '').split(',')[0], params.playbackId);
    return { status: 201, reason: 'Created', body: pb.toJson(), headers: { Location: `/playbacks/${pb.id}` } };
  },
  'bridges.destroy': ({ engine, params }) => {
    const b = engine.bridges.get(params.bridgeId ?? '');
    if (!b || b.bridgeClass !== 'stasis') throw bridgeNotFound();
    return noContent(() => engine.destroyBridge(b));
  },
  'bridges.addChannel': ({ engine, params }) => {
    const b = stasisBridge(engine, params.bridgeId ?? '');
    const channels = channelList(engine, params.channel);
    return noContent(() => {
      for (const ch of channels) if (ch.alive && engine.bridges.has(b.id)) engine.joinBridge(b, ch);
    });
  },
  'bridges.removeChannel': ({ engine, params }) => {
    const b = stasisBridge(engine, params.bridgeId ?? '');
    const channels = channelList(engine, params.channel);
    for (const ch of channels) {
      if (ch.bridgeId !== b.id) throw new AriError(422, 'Unprocessable Entity', 'Channel not in this bridge');
    }
    return noContent(() => {
      for (const ch of channels) if (ch.bridgeId === b.id) engine.leaveBridge(ch);
    });
  },
};
