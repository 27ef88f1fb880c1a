import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script run by EVALSHA, loaded again with EVAL when the server does not know it (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly lua: string,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.lua, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}

/** Scripts reply `{'ok', …}` or `{'err', code, detail}`. */
export type ScriptReply = ['ok', ...string[]] | ['err', string, string?];

export function asReply(raw: unknown): ScriptReply {
  if (!Array.isArray(raw) || (raw[0] !== 'ok' && raw[0] !== 'err')) {
    throw new Error(`unexpected Lua reply: ${JSON.stringify(raw)}`);
  }
  return raw.map((v) => (v == null ? undefined : String(v))) as ScriptReply;
}
