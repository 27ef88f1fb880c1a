/** One registered error: the HTTP status it answers with, its stable code, and whether trying again can help. */
export interface ErrorSpec {
  readonly status: number;
  readonly code: string;
  /**
   * Whether the same operation, tried again later, can succeed (the dependency may come back, a turn may free up).
   * `false`: the request, the key or the configuration itself is wrong; jobs fail at once instead of retrying.
   */
  readonly retryable: boolean;
}

/**
 * The error registry: every code that can reach a client (HTTP body), a webhook, or a recording's or export's
 * `error` / `last_error` is here, and only here (test/unit/domain/error-registry.test.ts scans src for strays).
 * docs/api.md lists them with their status and retryability.
 */
export const ErrorCodes = {
  // requests
  VALIDATION: { status: 400, code: 'validation_failed', retryable: false },
  BAD_REQUEST: { status: 400, code: 'bad_request', retryable: false },
  MALFORMED_JSON: { status: 400, code: 'malformed_json', retryable: false },
  UNKNOWN_OPTION: { status: 400, code: 'unknown_option', retryable: false },
  INVALID_CUSTOMER_ID: { status: 400, code: 'invalid_customer_id', retryable: false },
  UNAUTHORIZED: { status: 401, code: 'unauthorized', retryable: false },
  FORBIDDEN: { status: 403, code: 'forbidden', retryable: false },
  NOT_FOUND: { status: 404, code: 'not_found', retryable: false },
  CALL_NOT_FOUND: { status: 404, code: 'call_not_found', retryable: false },
  CONFERENCE_NOT_FOUND: { status: 404, code: 'conference_not_found', retryable: false },
  RECORDING_NOT_FOUND: { status: 404, code: 'recording_not_found', retryable: false },
  /** The file is asked for before the recording is `available`: once its upload is done, it is. */
  RECORDING_NOT_AVAILABLE: { status: 404, code: 'recording_not_available', retryable: true },
  RECORDING_EXPIRED: { status: 410, code: 'recording_expired', retryable: false },
  RECORDING_DELETED: { status: 410, code: 'recording_deleted', retryable: false },
  EXPORT_NOT_FOUND: { status: 404, code: 'export_not_found', retryable: false },
  EXPORT_DELETED: { status: 410, code: 'export_deleted', retryable: false },
  EXPORT_EXPIRED: { status: 410, code: 'export_expired', retryable: false },
  RECORDING_ALREADY_ACTIVE: { status: 409, code: 'recording_already_active', retryable: false },
  NO_ACTIVE_RECORDING: { status: 409, code: 'no_active_recording', retryable: false },
  RECORDING_ACTIVE: { status: 409, code: 'recording_active', retryable: false },
  CALL_NOT_UP: { status: 409, code: 'call_not_up', retryable: false },
  INVALID_TRANSITION: { status: 409, code: 'invalid_transition', retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, code: 'payload_too_large', retryable: false },
  URI_TOO_LONG: { status: 414, code: 'uri_too_long', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', retryable: false },
  RANGE_NOT_SATISFIABLE: { status: 416, code: 'range_not_satisfiable', retryable: false },
  RATE_LIMITED: { status: 429, code: 'rate_limited', retryable: true },
  // dependencies and resources
  PORTS_EXHAUSTED: { status: 503, code: 'rtp_ports_exhausted', retryable: true },
  ARI_UNAVAILABLE: { status: 503, code: 'ari_unavailable', retryable: true },
  ARI_REFUSED: { status: 502, code: 'ari_refused', retryable: false },
  STORE_UNAVAILABLE: { status: 503, code: 'store_unavailable', retryable: true },
  /** Storage down, overloaded, timing out, or out of space (GCS 408/410/429/5xx, network errors; local ENOSPC, EIO…). */
  STORAGE_UNAVAILABLE: { status: 503, code: 'storage_unavailable', retryable: true },
  /** Storage refuses the request itself (GCS 401/403, 400, a missing bucket; local EACCES/EPERM/EROFS): configuration. */
  STORAGE_REFUSED: { status: 502, code: 'storage_refused', retryable: false },
  STORAGE_CHECKSUM_MISMATCH: { status: 502, code: 'checksum_mismatch', retryable: true },
  SETUP_FAILED: { status: 502, code: 'recording_setup_failed', retryable: false },
  SETUP_BUSY: { status: 503, code: 'recording_setup_busy', retryable: true },
  INVALID_STORAGE_KEY: { status: 500, code: 'invalid_storage_key', retryable: false },
  MIXER_FAILED: { status: 500, code: 'mixer_failed', retryable: false },
  SHUTTING_DOWN: { status: 503, code: 'shutting_down', retryable: true },
  /** recording_pause on a recording already paused. */
  ALREADY_PAUSED: { status: 409, code: 'recording_paused', retryable: false },
  /** recording_resume on a recording that is not paused. */
  NOT_PAUSED: { status: 409, code: 'recording_not_paused', retryable: false },
  /** Admission control: the mixer workers are at their measured capacity; the running recordings are kept whole. */
  OVERLOADED: { status: 503, code: 'overloaded', retryable: true },
  // what a recording or an export records (error / last_error)
  /** The finished spool file vanished before it reached storage: nothing left to upload. */
  RECORDING_FILE_LOST: { status: 500, code: 'recording_file_lost', retryable: false },
  /** A restart found a recording without any spool file (the daemon stopped before any audio was written). */
  SPOOL_FILE_LOST: { status: 500, code: 'spool_file_lost', retryable: false },
  /** `error` of a recording whose node (daemon) stopped heartbeating for NODE_LOST_AFTER_SEC: its audio is out of reach. */
  NODE_LOST: { status: 500, code: 'node_lost', retryable: false },
  /** The node whose Asterisk has the call or conference did not answer in time (fleet routing). */
  NODE_UNAVAILABLE: { status: 503, code: 'node_unavailable', retryable: true },
  /** `last_error` of a recording interrupted by a restart whose spool file was repaired; its upload goes on. */
  DAEMON_RESTARTED: { status: 500, code: 'daemon_restarted', retryable: true },
  /** `last_error` of an upload attempt that failed with an unexpected (non-AppError) error; it is retried. */
  UPLOAD_FAILED: { status: 500, code: 'upload_failed', retryable: true },
  /** An export that failed with an unexpected (non-AppError) error after its retries. */
  EXPORT_FAILED: { status: 500, code: 'export_failed', retryable: true },
  /** The export's job could not be queued (Redis trouble while answering the request). */
  ENQUEUE_FAILED: { status: 503, code: 'enqueue_failed', retryable: true },
  /** Logged (never sent) when an event listener throws: the emitter goes on (util/guarded-emitter.ts). */
  LISTENER_FAILED: { status: 500, code: 'listener_failed', retryable: false },
  /** Logged (never sent): a recording was deleted, but an export archive that linked it meanwhile was not (storage/deletion.ts). */
  ARCHIVE_PURGE_FAILED: { status: 500, code: 'archive_purge_failed', retryable: true },
  INTERNAL: { status: 500, code: 'internal_error', retryable: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorKind = keyof typeof ErrorCodes;
/** Every registered code. */
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]['code'];

const BY_CODE: ReadonlyMap<string, ErrorSpec> = new Map(Object.values(ErrorCodes).map((e) => [e.code, e]));

/** The registry entry of a code, or undefined for a code that is not registered. */
export function errorSpec(code: string): ErrorSpec | undefined {
  return BY_CODE.get(code);
}

export function isErrorCode(code: string): code is ErrorCode {
  return BY_CODE.has(code);
}

export interface AppErrorOptions {
  /** Overrides the registry's retryability for this error (e.g. a storage failure known to be permanent). */
  retryable?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether trying again can help: the registry's answer for the code unless the thrower knew better. */
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, details?: Record<string, unknown>, options?: AppErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = ErrorCodes[kind].code;
    this.status = ErrorCodes[kind].status;
    this.retryable = options?.retryable ?? ErrorCodes[kind].retryable;
    this.details = details;
  }

  toJSON(): { code: string; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ?? {}) };
  }
}

/**
 * Whether an operation that threw `err` is worth another attempt: an AppError says so itself; anything else
 * (a network error, a stream torn down) is unexpected and presumed transient.
 */
export function isRetryable(err: unknown): boolean {
  return isAppError(err) ? err.retryable : true;
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Messages clients may see for codes whose own messages can hold paths, keys or hosts (those go to the log). */
const PUBLIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  storage_unavailable: 'storage was unavailable',
  storage_refused: 'storage refused the request',
  checksum_mismatch: 'the stored file failed verification',
  store_unavailable: 'the recording database was unavailable',
  mixer_failed: 'the audio mixer failed',
  internal_error: 'internal error',
  ari_unavailable: 'Asterisk was not reachable or did not answer in time',
  invalid_storage_key: 'the recording cannot be stored',
  validation_failed: 'the request was refused',
};

/**
 * What a client, a webhook or `last_error` may say about an error: its code's public message, or its own message
 * with anything that looks like a path, URL or host:port cut out; never a stack. The full error goes to the log.
 */
export function clientMessage(err: unknown, fallback = 'the operation failed'): string {
  if (!isAppError(err)) return fallback;
  return PUBLIC_MESSAGES[err.code] ?? scrub(err.message);
}

function scrub(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/(?:^|(?<=[\s'"(=]))(?:[A-Za-z]:)?(?:[/\\][^\s'"()]+)+/g, '<path>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<host>');
}
