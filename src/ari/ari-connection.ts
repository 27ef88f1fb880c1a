import type { Logger } from '../logger.js';
import type { AriRequestMetrics } from '../metrics/ports.js';
import { AriEvents } from './ari-events.js';
import { AriRest } from './ari-rest.js';
import { StasisWaiter } from './stasis-waiter.js';
import type { AriEvent } from './types.js';

export interface AriConnectionOptions {
  url: string;
  username: string;
  password: string;
  app: string;
  reconnectMaxMs?: number;
  /** REST request timeout: a slower answer counts as a failure (the reconciler removes what it created anyway) */
  timeoutMs?: number;
  logger: Logger;
  /** REST requests' latency and errors. */
  metrics?: AriRequestMetrics;
}

/** One Stasis app: REST, the event WebSocket, and the StasisStart waiter fed from it. */
export class AriConnection {
  readonly rest: AriRest;
  readonly events: AriEvents;
  readonly stasis = new StasisWaiter();
  readonly app: string;

  constructor(opts: AriConnectionOptions) {
    this.app = opts.app;
    this.rest = new AriRest(opts);
    this.events = new AriEvents({ ...opts, logger: opts.logger.child({ component: 'ari' }) });
    this.events.on('event', (ev: AriEvent) => this.stasis.onEvent(ev));
  }

  start(): Promise<void> {
    return this.events.start();
  }

  close(): Promise<void> {
    return this.events.close();
  }
}
