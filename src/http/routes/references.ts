import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../domain/errors.js';
import { parseRecordingOptions } from '../../domain/recording-options.js';
import type { RecordingOptions, ReferenceType } from '../../domain/recording.js';
import type { PauseBehavior, RecorderApi } from '../../recorder/types.js';
import type { ReferenceRecord } from '../../store/types.js';
import { principalOf } from '../context.js';
import { errors, idParams, OPTIONAL_BODY, security } from '../schemas.js';
import { referenceView } from '../views.js';

interface Ops {
  start(id: string, customerId: string, options: RecordingOptions, atMs: number): Promise<ReferenceRecord>;
  stop(id: string, customerId: string, atMs: number): Promise<ReferenceRecord>;
  pause(id: string, customerId: string, behavior: PauseBehavior, atMs: number): Promise<ReferenceRecord>;
  resume(id: string, customerId: string, atMs: number): Promise<ReferenceRecord>;
  get(id: string, customerId: string): Promise<ReferenceRecord>;
}

interface Kind {
  type: ReferenceType;
  path: string;
  tag: string;
  ops: Ops;
}

/**
 * One recording action on a reference (POST /{calls|conferences}/{id}/<route>): what differs between the actions;
 * postAction registers it, the same way for a call and for a conference.
 */
interface ReferenceAction<Body = unknown> {
  /** the route's last segment, e.g. recording_start */
  route: string;
  /** the operationId's verb: `${verb}CallRecording`, `${verb}ConferenceRecording` */
  verb: string;
  summary(type: ReferenceType): string;
  description(type: ReferenceType): string;
  /** its body's schema (always optional); none: the action takes no body */
  body?: Record<string, unknown>;
  /** its error responses, beyond the ones of every protected route (schemas.ts `errors`) */
  errors: number[];
  run(ops: Ops, id: string, customerId: string, body: Body | undefined, atMs: number): Promise<ReferenceRecord>;
}

const START: ReferenceAction<Partial<RecordingOptions>> = {
  route: 'recording_start',
  verb: 'start',
  summary: (type) => `Start recording a ${type}`,
  description: (type) =>
    'The body is optional. Refused with 409 recording_already_active when one is running. Every option works on ' +
    `every ${type} (docs/api.md says how).`,
  body: { $ref: 'RecordingOptions#' },
  errors: [400, 404, 409, 502, 503],
  // The schema refused what it could; the domain parser (shared with flow actions) normalizes.
  run: (ops, id, customerId, body, atMs) => ops.start(id, customerId, parseRecordingOptions(body), atMs),
};

const STOP: ReferenceAction = {
  route: 'recording_stop',
  verb: 'stop',
  summary: (type) => `Stop the active recording of a ${type}`,
  description: () => 'Refused with 409 no_active_recording when none is running.',
  errors: [404, 409, 502, 503],
  run: (ops, id, customerId, _body, atMs) => ops.stop(id, customerId, atMs),
};

const PAUSE: ReferenceAction<{ pause_behavior?: PauseBehavior }> = {
  route: 'recording_pause',
  verb: 'pause',
  summary: (type) => `Pause the active recording of a ${type} inside its file`,
  description: () =>
    'From now on the audio is left out of the file (`pause_behavior: "skip"`, default) or written as silence ("silence") ' +
    'until recording_resume; the recording is `paused` meanwhile (it still stops, ends on hangup and expires like a running one), ' +
    'and its `pauses` list the pauses. 409 no_active_recording / recording_paused.',
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: { pause_behavior: { type: 'string', enum: ['skip', 'silence'] } },
  },
  errors: [400, 404, 409, 503],
  run: (ops, id, customerId, body, atMs) => ops.pause(id, customerId, body?.pause_behavior ?? 'skip', atMs),
};

const RESUME: ReferenceAction = {
  route: 'recording_resume',
  verb: 'resume',
  summary: (type) => `Resume the paused recording of a ${type}`,
  description: () => 'The audio is recorded again from now on, in the same file. 409 no_active_recording / recording_not_paused.',
  errors: [404, 409, 503],
  run: (ops, id, customerId, _body, atMs) => ops.resume(id, customerId, atMs),
};

/** POST {path}/:id/{route} of one kind of reference: recording.write, the Reference back (the customer's own only). */
function postAction<Body>(app: FastifyInstance, { type, path, tag, ops }: Kind, action: ReferenceAction<Body>): void {
  const Type = type === 'call' ? 'Call' : 'Conference';
  app.post<{ Params: { id: string } }>(
    `${path}/:id/${action.route}`,
    {
      config: { permission: 'recording.write' },
      schema: {
        tags: [tag],
        summary: action.summary(type),
        operationId: `${action.verb}${Type}Recording`,
        description: action.description(type),
        security,
        params: idParams,
        ...(action.body ? { body: action.body, [OPTIONAL_BODY]: true } : {}),
        response: { 200: { $ref: 'Reference#' }, ...errors(...action.errors) },
      },
    },
    async (request, reply) => {
      const { customer_id } = principalOf(request);
      // the body as the action's schema let it through
      const body = request.body as Body | undefined;
      return own(type, customer_id, await action.run(ops, request.params.id, customer_id, body, arrivedAt(reply)));
    },
  );
}

/** POST /{calls|conferences}/{id}/recording_{start|stop|pause|resume} and GET /{calls|conferences}/{id}. */
export function referenceRoutes(recorder: RecorderApi) {
  return async (app: FastifyInstance): Promise<void> => {
    const kinds: Kind[] = [
      {
        type: 'call',
        path: '/calls',
        tag: 'calls',
        ops: {
          start: (id, c, o, at) => recorder.startCall(id, c, o, at),
          stop: (id, c, at) => recorder.stopCall(id, c, 'api', at),
          pause: (id, c, b, at) => recorder.pauseCall(id, c, b, at),
          resume: (id, c, at) => recorder.resumeCall(id, c, at),
          get: (id, c) => recorder.getCall(id, c),
        },
      },
      {
        type: 'conference',
        path: '/conferences',
        tag: 'conferences',
        ops: {
          start: (id, c, o, at) => recorder.startConference(id, c, o, at),
          stop: (id, c, at) => recorder.stopConference(id, c, 'api', at),
          pause: (id, c, b, at) => recorder.pauseConference(id, c, b, at),
          resume: (id, c, at) => recorder.resumeConference(id, c, at),
          get: (id, c) => recorder.getConference(id, c),
        },
      },
    ];

    for (const kind of kinds) {
      const { type, path, tag, ops } = kind;
      const Type = type === 'call' ? 'Call' : 'Conference';
      postAction(app, kind, START);
      postAction(app, kind, STOP);
      postAction(app, kind, PAUSE);
      postAction(app, kind, RESUME);

      app.get<{ Params: { id: string } }>(
        `${path}/:id`,
        {
          config: { permission: 'recording.read' },
          schema: {
            tags: [tag],
            summary: `Get a ${type} with its recording_id and recording_ids`,
            operationId: `get${Type}`,
            security,
            params: idParams,
            response: { 200: { $ref: 'Reference#' }, ...errors(404, 503) },
          },
        },
        async (request) => {
          const { customer_id } = principalOf(request);
          return own(type, customer_id, await ops.get(request.params.id, customer_id));
        },
      );
    }
  };
}

/** When the request reached us: a recording's timeline starts (and ends) when the user asked, not after our own latency. */
function arrivedAt(reply: FastifyReply): number {
  return Date.now() - reply.elapsedTime;
}

/** The recorder scopes by customer; this is the second lock: another customer's reference is reported as unknown. */
function own(type: ReferenceType, customerId: string, ref: ReferenceRecord): Record<string, unknown> {
  if (ref.customer_id !== customerId) {
    throw type === 'call' ? new AppError('CALL_NOT_FOUND', `call ${ref.id} not found`) : new AppError('CONFERENCE_NOT_FOUND', `conference ${ref.id} not found`);
  }
  return referenceView(ref);
}
