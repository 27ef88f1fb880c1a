/**
 * JSON schemas of the admin API. They validate requests (see validation.ts), shape responses, and are
 * the source of the OpenAPI document (@fastify/swagger), so the document cannot drift from the code.
 */
import { DeleteReasons, RecordingStatuses, StopReasons } from '../domain/recording.js';
import { ExportStatuses } from '../store/types.js';
import { ExportItemStatuses } from './types.js';

export const MAX_EXPORT_IDS = 1000;
/** Route-schema marker: the body may be absent (see markOptionalBodies in server.ts). */
export const OPTIONAL_BODY = 'x-body-optional';
export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

const isoTime = { type: 'string', format: 'date-time' } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error: a stable code, a message, and details such as `field` for validation errors.',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string' },
  },
  additionalProperties: true,
} as const;

export const recordingOptionsSchema = {
  $id: 'RecordingOptions',
  type: 'object',
  description:
    'Options of recording_start. Every field is optional; an unknown field is refused (unknown_option). ' +
    'Same rules as domain/recording-options.ts (shared with the dialplan flow action).',
  additionalProperties: false,
  properties: {
    format: { type: 'string', enum: ['wav'], default: 'wav' },
    duration: { type: 'integer', minimum: 0, maximum: 86_400, description: 'Max seconds (0 = the global limit).' },
    end_of_silence: { type: 'integer', minimum: 0, maximum: 3600, description: 'Stop after this many seconds of silence (0 = off).' },
    end_of_key: { type: 'string', pattern: '^[0-9*#A-D]?$', description: 'A DTMF key (0-9, *, #, A-D) that stops the recording ("" = none).' },
    beep_start: { type: 'boolean', description: 'Play a beep before recording starts.' },
    sample_rate: {
      type: 'integer',
      enum: [8000, 16000],
      description: "The file's rate: 8000 (default; mixed at 16 kHz, decimated) or 16000 (wideband: Asterisk's slin16 as it comes, for transcription). Default 8000.",
    },
    channels: {
      type: 'integer',
      enum: [1, 2],
      description:
        "1 (default: both directions mixed) or 2 (dual-channel, calls only: the call's channel — what it says — on the left, the other side on the right). A conference refuses 2 (400 validation_failed, field channels).",
    },
  },
} as const;

export const referenceSchema = {
  $id: 'Reference',
  type: 'object',
  description: 'A call or a conference; recording_id is the active recording ("" when none).',
  required: ['id', 'type', 'customer_id', 'recording_id', 'recording_ids'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['call', 'conference'] },
    customer_id: { type: 'string' },
    recording_id: { type: 'string' },
    recording_ids: { type: 'array', items: { type: 'string' } },
    tm_create: isoTime,
    tm_update: isoTime,
    status: {
      type: 'string',
      description:
        "Live, on GET: a call's channel state from Asterisk, lower-cased (up, ringing, ring, down, busy, dialing, pre_ring, …), " +
        'hangup once the channel is gone; a conference: active, or ended once its bridge is gone.',
    },
  },
} as const;

const qualitySchema = {
  type: 'object',
  properties: {
    packets_received: { type: 'integer' },
    packets_lost: { type: 'integer' },
    packets_late: { type: 'integer' },
    packets_foreign: { type: 'integer', description: 'datagrams from anyone but the announced Asterisk source; none reached the file' },
    max_jitter_ms: { type: 'number' },
    silence_ratio: { type: 'number' },
  },
} as const;

const codeMessage = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

export const recordingSchema = {
  $id: 'Recording',
  type: 'object',
  required: ['id', 'customer_id', 'reference_type', 'reference_id', 'status', 'format', 'tm_create', 'tm_update'],
  properties: {
    id: { type: 'string' },
    customer_id: { type: 'string' },
    reference_type: { type: 'string', enum: ['call', 'conference'] },
    reference_id: { type: 'string' },
    status: { type: 'string', enum: [...RecordingStatuses] },
    format: { type: 'string', enum: ['wav'] },
    sample_rate: { type: 'integer' },
    channels: { type: 'integer' },
    duration_ms: { type: 'integer' },
    size_bytes: { type: 'integer' },
    stop_reason: { type: 'string', enum: [...StopReasons] },
    delete_reason: { type: 'string', enum: [...DeleteReasons] },
    error: codeMessage,
    last_error: { ...codeMessage, description: 'Last upload problem while stopping (retried).' },
    quality: qualitySchema,
    no_audio: { type: 'boolean' },
    checksum_md5: { type: 'string', description: 'base64 MD5 of the stored file' },
    options: {
      type: 'object',
      properties: {
        format: { type: 'string' },
        duration: { type: 'integer' },
        end_of_silence: { type: 'integer' },
        end_of_key: { type: 'string' },
        beep_start: { type: 'boolean' },
        sample_rate: { type: 'integer', enum: [8000, 16000] },
        channels: { type: 'integer', enum: [1, 2] },
      },
    },
    tm_start: isoTime,
    tm_end: isoTime,
    pauses: {
      type: 'array',
      description: 'Pauses inside the recording (recording_pause / recording_resume), oldest first; tm_end is absent while paused.',
      items: {
        type: 'object',
        required: ['tm_start', 'behavior'],
        properties: { tm_start: isoTime, tm_end: isoTime, behavior: { type: 'string', enum: ['skip', 'silence'] } },
      },
    },
    tm_create: isoTime,
    tm_update: isoTime,
    tm_delete: isoTime,
    tm_expire: isoTime,
  },
} as const;

const usageTotals = {
  count: { type: 'integer', description: 'available recordings' },
  size_bytes: { type: 'integer', description: 'their files, in bytes' },
  duration_ms: { type: 'integer', description: 'their audio, in ms' },
} as const;

export const usageSchema = {
  $id: 'Usage',
  type: 'object',
  required: ['from', 'to', 'count', 'size_bytes', 'duration_ms', 'days'],
  properties: {
    from: isoTime,
    to: isoTime,
    ...usageTotals,
    days: {
      type: 'array',
      items: { type: 'object', required: ['day', 'count', 'size_bytes', 'duration_ms'], properties: { day: { type: 'string', format: 'date' }, ...usageTotals } },
    },
  },
} as const;

export const recordingPageSchema = {
  $id: 'RecordingPage',
  type: 'object',
  required: ['result'],
  properties: {
    result: { type: 'array', items: { $ref: 'Recording#' } },
    next_page_token: { type: 'string', description: 'Absent on the last page.' },
  },
} as const;

export const exportSchema = {
  $id: 'Export',
  type: 'object',
  required: ['id', 'status', 'items', 'tm_create', 'tm_update'],
  properties: {
    id: { type: 'string' },
    customer_id: { type: 'string' },
    status: { type: 'string', enum: [...ExportStatuses] },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['recording_id', 'status'],
        properties: {
          recording_id: { type: 'string' },
          status: { type: 'string', enum: [...ExportItemStatuses] },
        },
      },
    },
    progress: {
      type: 'object',
      properties: { done: { type: 'integer' }, total: { type: 'integer' } },
    },
    size_bytes: { type: 'integer', description: 'Size of the archive (when completed).' },
    error: codeMessage,
    download_url: { type: 'string', description: 'Present when status is completed.' },
    tm_create: isoTime,
    tm_update: isoTime,
    tm_start: isoTime,
    tm_end: isoTime,
  },
} as const;

export const sharedSchemas = [errorSchema, recordingOptionsSchema, referenceSchema, recordingSchema, recordingPageSchema, usageSchema, exportSchema];

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      maxLength: 100,
      // Asterisk ids (1795579021.0, UUIDs, channelId= values) and ours; never `.`/`..`, `/`, spaces or controls
      pattern: '^(?!\\.{1,2}$)[A-Za-z0-9._:@+=-]+$',
      description: 'letters, digits and . _ : @ + = - (not "." or ".."); longer ids get 414 uri_too_long',
    },
  },
} as const;

export const listQuery = {
  type: 'object',
  properties: {
    page_size: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
    page_token: { type: 'string', maxLength: 512 },
    reference_id: { type: 'string', minLength: 1, maxLength: 128 },
    reference_type: { type: 'string', enum: ['call', 'conference'] },
    status: { type: 'string', enum: [...RecordingStatuses] },
    from: { ...isoTime, description: 'Only recordings created at or after this time (inclusive).' },
    to: { ...isoTime, description: 'Only recordings created at or before this time (inclusive).' },
  },
} as const;

export const exportBody = {
  type: 'object',
  required: ['recording_ids'],
  additionalProperties: false,
  properties: {
    recording_ids: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_EXPORT_IDS,
      items: { type: 'string', minLength: 1, maxLength: 128 },
    },
  },
} as const;

const err = { $ref: 'Error#' } as const;

/** Error responses for a protected route, plus the ones given. */
export function errors(...statuses: number[]): Record<number, typeof err> {
  const out: Record<number, typeof err> = { 401: err, 403: err, 429: err, 500: err };
  for (const s of statuses) out[s] = err;
  return out;
}

export const security: Array<Record<string, string[]>> = [{ bearer: [] }, { token: [] }];
