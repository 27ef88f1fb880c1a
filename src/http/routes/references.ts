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

/** POST /{calls|conferences}/{id}/recording_start|recording_stop and GET /{calls|conferences}/{id}. */
export function referenceRoutes(recorder: RecorderApi) {
  return async (app: FastifyInstance): Promise<void> => {
    const kinds: Array<{ type: ReferenceType; path: string; tag: string; ops: Ops }> = [
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

    for (const { type, path, tag, ops } of kinds) {
      const Type = type === 'call' ? 'Call' : 'Conference';
      app.post<{ Params: { id: string }; Body: Partial<RecordingOptions> | undefined }>(
        `${path}/:id/recording_start`,
        {
          config: { permission: 'recording.write' },
          schema: {
            tags: [tag],
            summary: `Start recording a ${type}`,
            operationId: `start${Type}Recording`,
            description:
              'The body is optional. Refused with 409 recording_already_active when one is running. Every option works on ' +
              `every ${type} (docs/api.md says how).`,
            security,
            params: idParams,
            body: { $ref: 'RecordingOptions#' },
            [OPTIONAL_BODY]: true,
            response: { 200: { $ref: 'Reference#' }, ...errors(400, 404, 409, 502, 503) },
          },
        },
        async (request, reply) => {
          const { customer_id } = principalOf(request);
          // The schema refused what it could; the domain parser (shared with flow actions) normalizes.
          const options = parseRecordingOptions(request.body);
          return own(type, customer_id, await ops.start(request.params.id, customer_id, options, arrivedAt(reply)));
        },
      );

      app.post<{ Params: { id: string } }>(
        `${path}/:id/recording_stop`,
        {
          config: { permission: 'recording.write' },
          schema: {
            tags: [tag],
            summary: `Stop the active recording of a ${type}`,
            operationId: `stop${Type}Recording`,
            description: 'Refused with 409 no_active_recording when none is running.',
            security,
            params: idParams,
            response: { 200: { $ref: 'Reference#' }, ...errors(404, 409, 502, 503) },
          },
        },
        async (request, reply) => {
          const { customer_id } = principalOf(request);
          return own(type, customer_id, await ops.stop(request.params.id, customer_id, arrivedAt(reply)));
        },
      );

      app.post<{ Params: { id: string }; Body: { pause_behavior?: PauseBehavior } | undefined }>(
        `${path}/:id/recording_pause`,
        {
          config: { permission: 'recording.write' },
          schema: {
            tags: [tag],
            summary: `Pause the active recording of a ${type} inside its file`,
            operationId: `pause${Type}Recording`,
            description:
              'From now on the audio is left out of the file (`pause_behavior: "skip"`, default) or written as silence ("silence") ' +
              'until recording_resume; the recording is `paused` meanwhile (it still stops, ends on hangup and expires like a running one), ' +
              'and its `pauses` list the pauses. 409 no_active_recording / recording_paused.',
            security,
            params: idParams,
            body: {
              type: ['object', 'null'],
              additionalProperties: false,
              properties: { pause_behavior: { type: 'string', enum: ['skip', 'silence'] } },
            },
            [OPTIONAL_BODY]: true,
            response: { 200: { $ref: 'Reference#' }, ...errors(400, 404, 409, 503) },
          },
        },
        async (request, reply) => {
          const { customer_id } = principalOf(request);
          const behavior = request.body?.pause_behavior ?? 'skip';
          return own(type, customer_id, await ops.pause(request.params.id, customer_id, behavior, arrivedAt(reply)));
        },
      );

      app.post<{ Params: { id: string } }>(
        `${path}/:id/recording_resume`,
        {
          config: { permission: 'recording.write' },
          schema: {
            tags: [tag],
            summary: `Resume the paused recording of a ${type}`,
            operationId: `resume${Type}Recording`,
            description: 'The audio is recorded again from now on, in the same file. 409 no_active_recording / recording_not_paused.',
            security,
            params: idParams,
            response: { 200: { $ref: 'Reference#' }, ...errors(404, 409, 503) },
          },
        },
        async (request, reply) => {
          const { customer_id } = principalOf(request);
          return own(type, customer_id, await ops.resume(request.params.id, customer_id, arrivedAt(reply)));
        },
      );

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
