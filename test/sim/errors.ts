/** An ARI error response: status, HTTP reason phrase (Asterisk's wording varies per resource) and message. */
export class AriError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'AriError';
  }
}

export const channelNotFound = (): AriError => new AriError(404, 'Not Found', 'Channel not found');
export const channelNotInStasis = (): AriError => new AriError(409, 'Conflict', 'Channel not in a Stasis application');
export const bridgeNotFound = (): AriError => new AriError(404, 'Not found', 'Bridge not found');
export const internalError = (): AriError =>
  new AriError(500, 'Internal Server Error', 'An internal error prevented this request from being handled');
