import { AriHttpError } from '../ari/ari-rest.js';
import type { AriRest } from '../ari/ari-rest.js';
import type { Logger } from '../logger.js';
import { recordingIdOf } from './ari-ids.js';

type Rest = Pick<AriRest, 'listChannels' | 'listBridges' | 'hangup' | 'destroyBridge'>;

/**
 * Compares what Asterisk holds with what live recordings own, and deletes the rest (a controller's reconcile
 * loop). Every ARI object the recorder creates is named `rec-<recording id>-…`, so an object whose recording is
 * not live here is garbage: left by a failed or timed-out setup (a slow Asterisk creates a snoop after the client
 * gave up), by a crash, or by a cleanup that failed. Runs periodically, and again after every failed setup.
 */
export class Reconciler {
  #timer?: NodeJS.Timeout;
  readonly #pending = new Set<NodeJS.Timeout>();
  #running?: Promise<number>;
  #closed = false;

  constructor(
    private readonly rest: Rest,
    /** recording ids that are live in this process (their objects are theirs to delete) */
    private readonly live: () => ReadonlySet<string>,
    private readonly log: Logger,
    private readonly opts: { everyMs: number; settleMs: number },
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.run(), this.opts.everyMs);
    this.#timer.unref();
  }

  /** After a failed setup: now, and once more when Asterisk has had time to finish what it was still doing. */
  soon(): void {
    if (this.#closed) return;
    void this.run();
    const t = setTimeout(() => {
      this.#pending.delete(t);
      void this.run();
    }, this.opts.settleMs);
    t.unref();
    this.#pending.add(t);
  }

  /** One pass; resolves with the number of objects deleted. Never rejects; concurrent calls share one pass. */
  run(): Promise<number> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }

  async #pass(): Promise<number> {
    if (this.#closed) return 0;
    let channels, bridges;
    try {
      [channels, bridges] = await Promise.all([this.rest.listChannels(), this.rest.listBridges()]);
    } catch (err) {
      this.log.debug({ err: String(err) }, 'reconcile: Asterisk not reachable');
      return 0;
    }
    // Read after listing: a recording that started meanwhile is live, and its objects are left alone.
    const live = this.live();
    const orphan = (id: string) => {
      const rid = recordingIdOf(id);
      return rid !== null && !live.has(rid);
    };
    const gone = (err: unknown) => {
      if (!(err instanceof AriHttpError && err.status === 404)) throw err;
    };
    const deletions = [
      ...channels.filter((c) => orphan(c.id)).map((c) => ({ kind: 'channel', id: c.id, del: () => this.rest.hangup(c.id).catch(gone) })),
      ...bridges.filter((b) => orphan(b.id)).map((b) => ({ kind: 'bridge', id: b.id, del: () => this.rest.destroyBridge(b.id).catch(gone) })),
    ];
    // Channels first, so a bridge is empty when it goes (as Asterisk does on DELETE of its members).
    let deleted = 0;
    for (const group of [deletions.filter((d) => d.kind === 'channel'), deletions.filter((d) => d.kind === 'bridge')]) {
      const results = await Promise.allSettled(group.map((d) => d.del()));
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') deleted++;
        else this.log.warn({ [`${group[i].kind}_id`]: group[i].id, err: String(r.reason) }, 'reconcile: could not delete an orphaned object');
      });
    }
    if (deleted > 0) this.log.warn({ deleted, ids: deletions.map((d) => d.id) }, 'reconcile: deleted ARI objects no live recording owns');
    return deleted;
  }
}
