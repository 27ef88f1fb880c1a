/** /channels: originate, get, hangup, answer, continue, play, variables, snoop, externalMedia. */
import { KNOWN_SILENT_FORMATS, MEDIA_FORMATS } from '../codec.js';
import { findSteps } from '../dialplan-interpreter.js';
import { AriError, internalError } from '../errors.js';
import type { SpyDirection } from '../model.js';
import { type HandlerTable, type RouteContext, type RouteResponse, noContent, ok } from './types.js';

const SPY_VALUES: readonly SpyDirection[] = ['none', 'both', 'out', 'in'];
const HANGUP_REASONS = new Set([
  'normal', 'busy', 'congestion', 'no_answer', 'timeout', 'rejected', 'unallocated', 'normal_unspecified',
  'number_incomplete', 'codec_mismatch', 'interworking', 'failure', 'answered_elsewhere',
]);

const bad = (message: string): AriError => new AriError(400, 'Bad Request', message);

function originate(ctx: RouteContext, channelId: string | undefined): RouteResponse {
  const { params, engine } = ctx;
  const endpoint = params.endpoint;
  if (!endpoint) throw bad('Endpoint must be specified');
  const slash = endpoint.indexOf('/');
  if (slash <= 0) throw bad('Endpoint must be specified as technology/resource');
  const tech = endpoint.slice(0, slash);
  if (tech.toLowerCase() !== 'local') {
    // what Asterisk 22.10.1 answered for endpoint=Bogus/foo
    throw new AriError(409, 'Conflict', 'Channel with given unique ID already exists');
  }
  if (!params.app && !params.extension && !params.context) throw bad('Application or extension must be specified');
  const resource = endpoint.slice(slash + 1).split('/')[0];
  const at = resource.indexOf('@');
  const exten = at >= 0 ? resource.slice(0, at) : resource;
  const context = at >= 0 ? resource.slice(at + 1) : 'default';
  const { ch1, run } = engine.originateLocal({
    context,
    exten,
    app: params.app,
    appArgs: params.appArgs ? params.appArgs.split(',') : [],
    channelId,
    otherChannelId: params.otherChannelId,
    variables: ctx.variables,
  });
  if (!params.app && params.context === 'testconf' && params.extension && findSteps(engine.cfg.dialplan, 'testconf', params.extension)) {
    // asterisk-config's [testconf]: ConfBridge(${EXTEN})
    const name = params.extension;
    return ok(ch1.toJson(), () => {
      run();
      ch1.dialplan = { context: 'testconf', exten: name, priority: 1, app_name: 'ConfBridge', app_data: name };
      engine.joinBridge(engine.createConfBridge(name), ch1);
    });
  }
  const dpContext = params.context;
  if (!params.app && dpContext && !HARDWIRED_CONTEXTS.has(dpContext) && engine.cfg.dialplan.has(dpContext)) {
    // a context of asterisk-config/extensions.conf (e.g. [flow-examples]): ;1 runs it in the interpreter
    return ok(ch1.toJson(), () => {
      run();
      engine.runDialplan(ch1, { context: dpContext, exten: params.extension || 's', priority: Number(params.priority) || 1 });
    });
  }
  return ok(ch1.toJson(), run);
}

/** contexts the simulator knows by heart (test/sim/dialplan.ts), not through the interpreter */
const HARDWIRED_CONTEXTS = new Set(['test', 'test-play', 'testconf']);

function snoop(ctx: RouteContext, snoopId: string | undefined): RouteResponse {
  const { params, engine } = ctx;
  const spy = (params.spy || 'none') as SpyDirection;
  const whisper = (params.whisper || 'none') as SpyDirection;
  if (!SPY_VALUES.includes(spy)) throw bad('Invalid direction specified for spy');
  if (!SPY_VALUES.includes(whisper)) throw bad('Invalid direction specified for whisper');
  if (spy === 'none' && whisper === 'none') throw bad('Direction must be specified for at least spy or whisper');
  if (!params.app) throw bad('Application name is required');
  const spied = engine.channel(params.channelId ?? '');
  if (!spied || spied.hangingUp) throw new AriError(404, 'Channel Not Found', 'Provided channel was not found');
  const ch = engine.createSnoop(spied, { spy, whisper, app: params.app, appArgs: params.appArgs ? params.appArgs.split(',') : [], snoopId });
  return ok(ch.toJson());
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/;

async function externalMedia(ctx: RouteContext): Promise<RouteResponse> {
  const { params, engine } = ctx;
  if (!params.app) throw bad('app cannot be empty');
  const encapsulation = params.encapsulation || 'rtp';
  const transport = params.transport || 'udp';
  const connectionType = params.connection_type || 'client';
  if (!params.external_host && !(transport === 'websocket' && connectionType === 'server')) {
    throw bad('external_host is required for all but websocket server connections');
  }
  const hp = params.external_host ? HOST_PORT.exec(params.external_host) : null;
  if (transport !== 'websocket' && !hp) throw bad('external_host must be <host>:<port> for all transports other than websocket');
  if (!params.format) throw bad('format cannot be empty');
  if (connectionType === 'server' && transport !== 'websocket') throw bad("'server' connection_type can only be used with the websocket transport");
  if (encapsulation === 'rtp' && transport !== 'udp') {
    if (transport === 'websocket') throw bad("encapsulation must be 'none' for websocket transport");
    throw bad("transport must be 'udp' for rtp encapsulation");
  }
  if (encapsulation === 'audiosocket' && transport !== 'tcp') throw bad("transport must be 'tcp' for audiosocket encapsulation");
  if (encapsulation !== 'rtp') {
    // audiosocket / websocket media exist in Asterisk 22 but are not simulated
    throw new AriError(501, 'Not Implemented', 'The encapsulation and/or transport is not supported');
  }
  if (!(params.format in MEDIA_FORMATS) && !KNOWN_SILENT_FORMATS.has(params.format)) throw internalError();
  const host = hp![1] ?? hp![2];
  if (!/^[0-9.]+$/.test(host) && host !== 'localhost' && !host.includes(':')) throw internalError(); // unresolvable name
  const port = Number(hp![3]);
  const { ch, run } = await engine.createExternalMedia({
    app: params.app,
    externalHost: params.external_host!,
    host,
    port,
    formatName: params.format,
    channelId: params.channelId,
    data: params.data,
    variables: ctx.variables,
  });
  const json = ch.toJson(true);
  const delay = ctx.externalMediaRace();
  if (delay <= 0) {
    run();
    return ok(json);
  }
  return ok(json, () => engine.later(delay, run));
}

export const channelHandlers: HandlerTable = {
  'channels.list': ({ engine }) => ok([...engine.channels.values()].filter((c) => c.alive).map((c) => c.toJson())),
  'channels.originate': (ctx) => originate(ctx, ctx.params.channelId),
  'channels.originateWithId': (ctx) => originate(ctx, ctx.params.channelId),
  'channels.get': ({ engine, params }) => ok(engine.requireChannel(params.channelId ?? '').toJson()),
  'channels.hangup': ({ engine, params }) => {
    if (params.reason && !HANGUP_REASONS.has(params.reason)) throw bad('Invalid reason for hangup provided');
    const ch = engine.requireChannel(params.channelId ?? '');
    if (ch.hangingUp) throw new AriError(404, 'Not Found', 'Channel not found');
    return noContent(() => engine.hangupAny(ch, 'ari'));
  },
  'channels.continueInDialplan': ({ engine, params }) => {
    const ch = engine.requireStasisChannel(params.channelId ?? '');
    const target = { context: params.context, extension: params.extension, priority: params.priority ? Number(params.priority) : undefined };
    return noContent(() => engine.continueInDialplan(ch, target));
  },
  'channels.answer': ({ engine, params }) => {
    const ch = engine.requireStasisChannel(params.channelId ?? '');
    return noContent(() => engine.answer(ch));
  },
  'channels.play': (ctx) => play(ctx, ctx.params.playbackId),
  'channels.playWithId': (ctx) => play(ctx, ctx.params.playbackId),
  'channels.getChannelVar': ({ engine, params }) => {
    if (!params.variable) throw bad('Variable name is required');
    const ch = engine.channel(params.channelId ?? '');
    if (!ch) throw new AriError(404, 'Not Found', 'Provided channel was not found');
    if (!ch.stasis) throw new AriError(409, 'Conflict', 'Channel not in a Stasis application');
    const value = ch.vars.get(params.variable);
    if (value === undefined) throw new AriError(404, 'Not Found', 'Provided variable was not found');
    return ok({ value });
  },
  'channels.setChannelVar': ({ engine, params }) => {
    if (!params.variable) throw bad('Variable name is required');
    const ch = engine.requireStasisChannel(params.channelId ?? '');
    ch.vars.set(params.variable, params.value ?? '');
    return noContent();
  },
  'channels.snoopChannel': (ctx) => snoop(ctx, ctx.params.snoopId),
  'channels.snoopChannelWithId': (ctx) => snoop(ctx, ctx.params.snoopId),
  'channels.externalMedia': externalMedia,
};

function play(ctx: RouteContext, playbackId: string | undefined): RouteResponse {
  const { engine, params } = ctx;
  if (!params.media) throw bad('Missing parameter media');
  const ch = engine.requireStasisChannel(params.channelId ?? '');
  const pb = engine.play(ch, params.media.split(',')[0], playbackId);
  return {
    status: 201,
    reason: 'Created',
    body: pb.toJson(),
    headers: { Location: `/playbacks/${pb.id}` },
    after: () => engine.later(2, () => engine.startPlayback(pb)),
  };
}
