import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError, ErrorCodes, isAppError, type ErrorKind } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../store/keys.js';

/** What one node may ask another: act on a call or conference that lives on the other node's Asterisk. */
export interface NodeCommand {
  id: string;
  from: string;
  op: string;
  args: unknown[];
  /** epoch ms on Redis's clock: a command found after this is dropped (its sender has answered its client 503 already) */
  deadline: number;
}

type Reply = { id: string; ok: true; value: unknown } | { id: string; ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };

export type CommandHandler = (op: string, args: unknown[]) => Promise<unknown>;

const STREAM_MAXLEN = 10_000;

/**
 * Node-to-node requests through Redis: each node reads its own command stream (`node:<id>:commands`, XREAD on a
 * connection of its own) and publishes each reply on the asker's reply channel. The asker waits at most `timeoutMs`
 * and then fails with `503 node_unavailable`, never with a guessed state. Errors cross as their registered code.
 */
export class CommandBus {
  readonly #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  #stopped = false;
  #loop?: Promise<void>;

  constructor(
    private readonly deps: {
      /** commands: XADD, PUBLISH */
      redis: Redis;
      /** this node's blocking reads of its command stream */
      reader: Redis;
      /** this node's reply channel (subscriber mode) */
      subscriber: Redis;
      keys: RedisKeys;
      logger: Logger;
      /** The clock deadlines are on, the same for every node (node.clock: Redis's); default this host's. */
      clock?: { now(): number };
    },
    readonly nodeId: string,
    private readonly timeoutMs: number,
  ) {}

  #now(): number {
    return this.deps.clock?.now() ?? Date.now();
  }

  async start(handle: CommandHandler): Promise<void> {
    const { subscriber, keys } = this.deps;
    subscriber.on('message', (_channel: string, raw: string) => this.#onReply(raw));
    await subscriber.subscribe(keys.nodeReplies(this.nodeId));
    this.#loop = this.#serve(handle);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new AppError('NODE_UNAVAILABLE', 'this node is shutting down'));
      this.#pending.delete(id);
    }
    await this.#loop;
    await Promise.allSettled([this.deps.reader.quit(), this.deps.subscriber.quit()]);
  }

  /** Asks node `to` to run `op(args)`; resolves with its answer, rejects with its AppError or node_unavailable. */
  async ask<T>(to: string, op: string, args: unknown[]): Promise<T> {
    const id = randomUUID();
    const command: NodeCommand = { id, from: this.nodeId, op, args, deadline: this.#now() + this.timeoutMs };
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AppError('NODE_UNAVAILABLE', `node ${to} did not answer in ${this.timeoutMs} ms`, { node_id: to }));
      }, this.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    answer.catch(() => undefined);
    try {
      await this.deps.redis.xadd(this.deps.keys.nodeCommands(to), 'MAXLEN', '~', STREAM_MAXLEN, '*', 'command', JSON.stringify(command));
    } catch (err) {
      const p = this.#pending.get(id);
      if (p) clearTimeout(p.timer);
      this.#pending.delete(id);
      throw err;
    }
    return answer as Promise<T>;
  }

  #onReply(raw: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(raw) as Reply;
    } catch {
      return;
    }
    const p = this.#pending.get(reply.id);
    if (!p) return; // answered after its timeout
    this.#pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(toAppError(reply.error));
  }

  async #serve(handle: CommandHandler): Promise<void> {
    const { reader, redis, keys, logger } = this.deps;
    const stream = keys.nodeCommands(this.nodeId);
    // Never '$' ("what comes after this call"): a command added between two reads would be lost. Start from the
    // oldest command an asker can still be waiting for (stream ids are epoch ms): a node that starts (or restarts)
    // answers what was sent to it just before.
    let last = `${Math.floor(this.#now()) - this.timeoutMs}-0`;
    while (!this.#stopped) {
      try {
        const res = (await reader.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', stream, last)) as [string, [string, string[]][]][] | null;
        for (const [entryId, fields] of res?.[0]?.[1] ?? []) {
          last = entryId;
          const command = parseCommand(fields);
          if (!command || command.deadline < this.#now()) continue;
          void this.#run(handle, command).then((reply) => redis.publish(keys.nodeReplies(command.from), JSON.stringify(reply)).catch(() => undefined));
        }
      } catch (err) {
        if (this.#stopped) break;
        logger.warn({ err: (err as Error).message }, 'node command stream unreachable, retrying');
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
  }

  async #run(handle: CommandHandler, c: NodeCommand): Promise<Reply> {
    try {
      return { id: c.id, ok: true, value: (await handle(c.op, c.args)) ?? null };
    } catch (err) {
      const e = isAppError(err) ? err : new AppError('INTERNAL', 'the node failed the command');
      return { id: c.id, ok: false, error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } };
    }
  }
}

function parseCommand(fields: string[]): NodeCommand | null {
  const i = fields.indexOf('command');
  if (i < 0) return null;
  try {
    const c = JSON.parse(fields[i + 1]) as NodeCommand;
    return typeof c.id === 'string' && typeof c.from === 'string' && typeof c.op === 'string' && Array.isArray(c.args) && typeof c.deadline === 'number' ? c : null;
  } catch {
    return null;
  }
}

function toAppError(e: { code: string; message: string; details?: Record<string, unknown> }): AppError {
  const kind = (Object.keys(ErrorCodes) as ErrorKind[]).find((k) => ErrorCodes[k].code === e.code) ?? 'INTERNAL';
  return new AppError(kind, e.message, e.details);
}
