/**
 * What the simulated ARI accepts: the resource paths of Asterisk 22's ARI (for 404 vs 405, as res_ari.c
 * decides them), and for each operation the simulator implements, its parameters. Hand-written from the
 * swagger in ../shared/asterisk/api-docs; test/integration/sim-conformance.test.ts checks it against that
 * swagger whenever the folder exists.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Every ARI resource path and the methods Asterisk 22.10 answers on it. */
export const RESOURCE_PATHS: ReadonlyArray<readonly [string, string]> = [
  ['/asterisk/config/dynamic/{configClass}/{objectType}/{id}', 'GET PUT DELETE'],
  ['/asterisk/info', 'GET'],
  ['/asterisk/ping', 'GET'],
  ['/asterisk/modules', 'GET'],
  ['/asterisk/modules/{moduleName}', 'GET POST DELETE PUT'],
  ['/asterisk/logging', 'GET'],
  ['/asterisk/logging/{logChannelName}', 'POST DELETE'],
  ['/asterisk/logging/{logChannelName}/rotate', 'PUT'],
  ['/asterisk/variable', 'GET POST'],
  ['/endpoints', 'GET'],
  ['/endpoints/sendMessage', 'PUT'],
  ['/endpoints/refer', 'POST'],
  ['/endpoints/{tech}', 'GET'],
  ['/endpoints/{tech}/{resource}', 'GET'],
  ['/endpoints/{tech}/{resource}/sendMessage', 'PUT'],
  ['/endpoints/{tech}/{resource}/refer', 'POST'],
  ['/channels', 'GET POST'],
  ['/channels/create', 'POST'],
  ['/channels/{channelId}', 'GET POST DELETE'],
  ['/channels/{channelId}/continue', 'POST'],
  ['/channels/{channelId}/move', 'POST'],
  ['/channels/{channelId}/redirect', 'POST'],
  ['/channels/{channelId}/answer', 'POST'],
  ['/channels/{channelId}/ring', 'POST DELETE'],
  ['/channels/{channelId}/progress', 'POST'],
  ['/channels/{channelId}/dtmf', 'POST'],
  ['/channels/{channelId}/mute', 'POST DELETE'],
  ['/channels/{channelId}/hold', 'POST DELETE'],
  ['/channels/{channelId}/moh', 'POST DELETE'],
  ['/channels/{channelId}/silence', 'POST DELETE'],
  ['/channels/{channelId}/play', 'POST'],
  ['/channels/{channelId}/play/{playbackId}', 'POST'],
  ['/channels/{channelId}/record', 'POST'],
  ['/channels/{channelId}/variable', 'GET POST'],
  ['/channels/{channelId}/variables', 'GET POST'],
  ['/channels/{channelId}/snoop', 'POST'],
  ['/channels/{channelId}/snoop/{snoopId}', 'POST'],
  ['/channels/{channelId}/dial', 'POST'],
  ['/channels/{channelId}/rtp_statistics', 'GET'],
  ['/channels/externalMedia', 'POST'],
  ['/channels/{channelId}/transfer_progress', 'POST'],
  ['/bridges', 'GET POST'],
  ['/bridges/{bridgeId}', 'POST GET DELETE'],
  ['/bridges/{bridgeId}/variable', 'GET POST'],
  ['/bridges/{bridgeId}/variables', 'GET POST'],
  ['/bridges/{bridgeId}/addChannel', 'POST'],
  ['/bridges/{bridgeId}/removeChannel', 'POST'],
  ['/bridges/{bridgeId}/videoSource/{channelId}', 'POST'],
  ['/bridges/{bridgeId}/videoSource', 'DELETE'],
  ['/bridges/{bridgeId}/moh', 'POST DELETE'],
  ['/bridges/{bridgeId}/play', 'POST'],
  ['/bridges/{bridgeId}/play/{playbackId}', 'POST'],
  ['/bridges/{bridgeId}/record', 'POST'],
  ['/recordings/stored', 'GET'],
  ['/recordings/stored/{recordingName}', 'GET DELETE'],
  ['/recordings/stored/{recordingName}/file', 'GET'],
  ['/recordings/stored/{recordingName}/copy', 'POST'],
  ['/recordings/live/{recordingName}', 'GET DELETE'],
  ['/recordings/live/{recordingName}/stop', 'POST'],
  ['/recordings/live/{recordingName}/pause', 'POST DELETE'],
  ['/recordings/live/{recordingName}/mute', 'POST DELETE'],
  ['/sounds', 'GET'],
  ['/sounds/{soundId}', 'GET'],
  ['/playbacks/{playbackId}', 'GET DELETE'],
  ['/playbacks/{playbackId}/control', 'POST'],
  ['/deviceStates', 'GET'],
  ['/deviceStates/{deviceName}', 'GET PUT DELETE'],
  ['/mailboxes', 'GET'],
  ['/mailboxes/{mailboxName}', 'GET PUT DELETE'],
  ['/events', 'GET'],
  ['/events/user/{eventName}', 'POST'],
  ['/events/claim', 'POST'],
  ['/applications', 'GET'],
  ['/applications/{applicationName}', 'GET'],
  ['/applications/{applicationName}/subscription', 'POST DELETE'],
  ['/applications/{applicationName}/eventFilter', 'PUT'],
];

export interface ParamSpec {
  name: string;
  in: 'query' | 'path' | 'body';
  required?: boolean;
  /** comma-separated list (swagger allowMultiple) */
  multiple?: boolean;
  values?: readonly string[];
}

export type OperationId =
  | 'asterisk.getInfo'
  | 'asterisk.ping'
  | 'asterisk.getGlobalVar'
  | 'asterisk.setGlobalVar'
  | 'applications.list'
  | 'applications.get'
  | 'applications.subscribe'
  | 'applications.unsubscribe'
  | 'channels.list'
  | 'channels.originate'
  | 'channels.get'
  | 'channels.originateWithId'
  | 'channels.hangup'
  | 'channels.continueInDialplan'
  | 'channels.answer'
  | 'channels.play'
  | 'channels.playWithId'
  | 'channels.getChannelVar'
  | 'channels.setChannelVar'
  | 'channels.snoopChannel'
  | 'channels.snoopChannelWithId'
  | 'channels.externalMedia'
  | 'bridges.list'
  | 'bridges.create'
  | 'bridges.createWithId'
  | 'bridges.get'
  | 'bridges.destroy'
  | 'bridges.addChannel'
  | 'bridges.removeChannel'
  | 'bridges.play'
  | 'playbacks.get'
  | 'playbacks.stop'
  | 'events.eventWebsocket';

export interface OperationSpec {
  id: OperationId;
  method: HttpMethod;
  path: string;
  params: readonly ParamSpec[];
}

const q = (name: string, extra: Partial<ParamSpec> = {}): ParamSpec => ({ name, in: 'query', ...extra });
const p = (name: string): ParamSpec => ({ name, in: 'path', required: true });
const body = (name: string): ParamSpec => ({ name, in: 'body' });

const SPY = ['none', 'both', 'out', 'in'] as const;
const HANGUP_REASONS = [
  'normal', 'busy', 'congestion', 'no_answer', 'timeout', 'rejected', 'unallocated', 'normal_unspecified',
  'number_incomplete', 'codec_mismatch', 'interworking', 'failure', 'answered_elsewhere',
] as const;

const ORIGINATE_COMMON: readonly ParamSpec[] = [
  q('endpoint', { required: true }), q('extension'), q('context'), q('priority'), q('label'), q('app'), q('appArgs'),
  q('callerId'), q('timeout'), body('variables'), q('otherChannelId'), q('originator'), q('formats'),
];

export const OPERATIONS: readonly OperationSpec[] = [
  { id: 'asterisk.getInfo', method: 'GET', path: '/asterisk/info', params: [q('only', { multiple: true, values: ['build', 'system', 'config', 'status'] })] },
  { id: 'asterisk.ping', method: 'GET', path: '/asterisk/ping', params: [] },
  { id: 'asterisk.getGlobalVar', method: 'GET', path: '/asterisk/variable', params: [q('variable', { required: true })] },
  { id: 'asterisk.setGlobalVar', method: 'POST', path: '/asterisk/variable', params: [q('variable', { required: true }), q('value')] },
  { id: 'applications.list', method: 'GET', path: '/applications', params: [] },
  { id: 'applications.get', method: 'GET', path: '/applications/{applicationName}', params: [p('applicationName')] },
  { id: 'applications.subscribe', method: 'POST', path: '/applications/{applicationName}/subscription', params: [p('applicationName'), q('eventSource', { required: true, multiple: true })] },
  { id: 'applications.unsubscribe', method: 'DELETE', path: '/applications/{applicationName}/subscription', params: [p('applicationName'), q('eventSource', { required: true, multiple: true })] },
  { id: 'channels.list', method: 'GET', path: '/channels', params: [] },
  { id: 'channels.originate', method: 'POST', path: '/channels', params: [...ORIGINATE_COMMON, q('channelId')] },
  { id: 'channels.get', method: 'GET', path: '/channels/{channelId}', params: [p('channelId')] },
  { id: 'channels.originateWithId', method: 'POST', path: '/channels/{channelId}', params: [p('channelId'), ...ORIGINATE_COMMON] },
  { id: 'channels.hangup', method: 'DELETE', path: '/channels/{channelId}', params: [p('channelId'), q('reason_code'), q('reason', { values: HANGUP_REASONS })] },
  { id: 'channels.continueInDialplan', method: 'POST', path: '/channels/{channelId}/continue', params: [p('channelId'), q('context'), q('extension'), q('priority'), q('label')] },
  { id: 'channels.answer', method: 'POST', path: '/channels/{channelId}/answer', params: [p('channelId')] },
  { id: 'channels.play', method: 'POST', path: '/channels/{channelId}/play', params: [p('channelId'), q('media', { required: true, multiple: true }), q('lang'), q('offsetms'), q('skipms'), q('playbackId')] },
  { id: 'channels.playWithId', method: 'POST', path: '/channels/{channelId}/play/{playbackId}', params: [p('channelId'), p('playbackId'), q('media', { required: true, multiple: true }), q('lang'), q('offsetms'), q('skipms')] },
  { id: 'channels.getChannelVar', method: 'GET', path: '/channels/{channelId}/variable', params: [p('channelId'), q('variable', { required: true })] },
  { id: 'channels.setChannelVar', method: 'POST', path: '/channels/{channelId}/variable', params: [p('channelId'), q('variable', { required: true }), q('value'), q('report_events')] },
  { id: 'channels.snoopChannel', method: 'POST', path: '/channels/{channelId}/snoop', params: [p('channelId'), q('spy', { values: SPY }), q('whisper', { values: SPY }), q('app', { required: true }), q('appArgs'), q('snoopId')] },
  { id: 'channels.snoopChannelWithId', method: 'POST', path: '/channels/{channelId}/snoop/{snoopId}', params: [p('channelId'), p('snoopId'), q('spy', { values: SPY }), q('whisper', { values: SPY }), q('app', { required: true }), q('appArgs')] },
  {
    id: 'channels.externalMedia',
    method: 'POST',
    path: '/channels/externalMedia',
    params: [
      q('channelId'), q('app', { required: true }), body('variables'), q('external_host'),
      q('encapsulation', { values: ['rtp', 'audiosocket', 'none'] }), q('transport', { values: ['udp', 'tcp', 'websocket'] }),
      q('connection_type', { values: ['client', 'server'] }), q('format', { required: true }), q('direction', { values: ['both'] }),
      q('data'), q('transport_data'),
    ],
  },
  { id: 'bridges.list', method: 'GET', path: '/bridges', params: [] },
  { id: 'bridges.create', method: 'POST', path: '/bridges', params: [q('type'), q('bridgeId'), q('name'), body('variables')] },
  { id: 'bridges.createWithId', method: 'POST', path: '/bridges/{bridgeId}', params: [q('type'), p('bridgeId'), q('name'), body('variables')] },
  { id: 'bridges.get', method: 'GET', path: '/bridges/{bridgeId}', params: [p('bridgeId')] },
  { id: 'bridges.destroy', method: 'DELETE', path: '/bridges/{bridgeId}', params: [p('bridgeId')] },
  { id: 'bridges.play', method: 'POST', path: '/bridges/{bridgeId}/play', params: [p('bridgeId'), q('media', { required: true, multiple: true }), q('lang'), q('offsetms'), q('skipms'), q('playbackId')] },
  {
    id: 'bridges.addChannel',
    method: 'POST',
    path: '/bridges/{bridgeId}/addChannel',
    params: [p('bridgeId'), q('channel', { required: true, multiple: true }), q('role'), q('absorbDTMF'), q('mute'), q('inhibitConnectedLineUpdates')],
  },
  { id: 'bridges.removeChannel', method: 'POST', path: '/bridges/{bridgeId}/removeChannel', params: [p('bridgeId'), q('channel', { required: true, multiple: true })] },
  { id: 'playbacks.get', method: 'GET', path: '/playbacks/{playbackId}', params: [p('playbackId')] },
  { id: 'playbacks.stop', method: 'DELETE', path: '/playbacks/{playbackId}', params: [p('playbackId')] },
  { id: 'events.eventWebsocket', method: 'GET', path: '/events', params: [q('app', { required: true, multiple: true }), q('subscribeAll')] },
];

export type Params = Record<string, string | undefined>;

/**
 * Collects an operation's parameters like Asterisk's generated handlers: known query parameters are taken
 * (unknown ones are ignored), then fields of a JSON body override them; `variables` comes from the body only.
 */
export function collectParams(
  op: OperationSpec,
  query: URLSearchParams,
  pathVars: Record<string, string>,
  jsonBody: Record<string, unknown> | null,
): { params: Params; variables: Record<string, string> } {
  const params: Params = {};
  for (const spec of op.params) {
    if (spec.in === 'path') params[spec.name] = pathVars[spec.name];
    else if (spec.in === 'query') {
      const all = query.getAll(spec.name);
      if (all.length > 0) params[spec.name] = spec.multiple ? all.join(',') : all[all.length - 1];
    }
  }
  let variables: Record<string, string> = {};
  if (jsonBody) {
    for (const spec of op.params) {
      if (spec.in !== 'query' || !(spec.name in jsonBody)) continue;
      const v = jsonBody[spec.name];
      params[spec.name] = Array.isArray(v) ? v.map(String).join(',') : v === null ? undefined : String(v);
    }
    const vars = jsonBody.variables;
    if (vars && typeof vars === 'object' && !Array.isArray(vars)) {
      variables = Object.fromEntries(Object.entries(vars as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    }
  }
  return { params, variables };
}
