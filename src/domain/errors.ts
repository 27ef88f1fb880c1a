/** Every error the product reports carries a stable `code` and the HTTP status it maps to. */
export const ErrorCodes = {
  VALIDATION: { status: 400, code: 'validation_failed' },
  MALFORMED_JSON: { status: 400, code: 'malformed_json' },
  UNKNOWN_OPTION: { status: 400, code: 'unknown_option' },
  INVALID_CUSTOMER_ID: { status: 400, code: 'invalid_customer_id' },
  UNAUTHORIZED: { status: 401, code: 'unauthorized' },
  FORBIDDEN: { status: 403, code: 'forbidden' },
  NOT_FOUND: { status: 404, code: 'not_found' },
  CALL_NOT_FOUND: { status: 404, code: 'call_not_found' },
  CONFERENCE_NOT_FOUND: { status: 404, code: 'conference_not_found' },
  RECORDING_NOT_FOUND: { status: 404, code: 'recording_not_found' },
  RECORDING_NOT_AVAILABLE: { status: 404, code: 'recording_not_available' },
  RECORDING_EXPIRED: { status: 410, code: 'recording_expired' },
  RECORDING_DELETED: { status: 410, code: 'recording_deleted' },
  EXPORT_NOT_FOUND: { status: 404, code: 'export_not_found' },
  EXPORT_DELETED: { status: 410, code: 'export_deleted' },
  EXPORT_EXPIRED: { status: 410, code: 'export_expired' },
  RECORDING_ALREADY_ACTIVE: { status: 409, code: 'recording_already_active' },
  NO_ACTIVE_RECORDING: { status: 409, code: 'no_active_recording' },
  RECORDING_ACTIVE: { status: 409, code: 'recording_active' },
  CALL_NOT_UP: { status: 409, code: 'call_not_up' },
  INVALID_TRANSITION: { status: 409, code: 'invalid_transition' },
  RANGE_NOT_SATISFIABLE: { status: 416, code: 'range_not_satisfiable' },
  RATE_LIMITED: { status: 429, code: 'rate_limited' },
  PORTS_EXHAUSTED: { status: 503, code: 'rtp_ports_exhausted' },
  ARI_UNAVAILABLE: { status: 503, code: 'ari_unavailable' },
  ARI_REFUSED: { status: 502, code: 'ari_refused' },
  STORE_UNAVAILABLE: { status: 503, code: 'store_unavailable' },
  STORAGE_UNAVAILABLE: { status: 503, code: 'storage_unavailable' },
  STORAGE_CHECKSUM_MISMATCH: { status: 502, code: 'checksum_mismatch' },
  SETUP_FAILED: { status: 502, code: 'recording_setup_failed' },
  SETUP_BUSY: { status: 503, code: 'recording_setup_busy' },
  INVALID_STORAGE_KEY: { status: 500, code: 'invalid_storage_key' },
  MIXER_FAILED: { status: 500, code: 'mixer_failed' },
  SHUTTING_DOWN: { status: 503, code: 'shutting_down' },
  INTERNAL: { status: 500, code: 'internal_error' },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]['code'];

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(kind: ErrorKind, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = ErrorCodes[kind].code;
    this.status = ErrorCodes[kind].status;
    this.details = details;
  }

  toJSON(): { code: string; message: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ?? {}) };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Messages clients may see for codes whose own messages can hold paths, keys or hosts (those go to the log). */
const PUBLIC_MESSAGES: Partial<Record<ErrorCode, string>> = {
  storage_unavailable: 'storage was unavailable',
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
