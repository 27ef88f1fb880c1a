import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CompositeAuthenticator,
  extractToken,
  loadTokensFile,
  normalizePermission,
  parseTokensConfig,
  redactUrl,
  StaticAuthenticator,
  TokenStoreAuthenticator,
} from '../../../src/http/auth.js';

const T1 = 'secret-token-one-0123456789';
const T2 = 'secret-token-two-0123456789';

describe('extractToken', () => {
  it.each([
    ['Bearer header', { authorization: `Bearer ${T1}` }, {}, T1],
    ['bearer lowercase', { authorization: `bearer ${T1}` }, {}, T1],
    ['extra spaces', { authorization: `Bearer   ${T1}  ` }, {}, T1],
    ['query', {}, { token: T1 }, T1],
    ['header wins over query', { authorization: `Bearer ${T1}` }, { token: T2 }, T1],
    ['Basic scheme is not a token', { authorization: 'Basic abc' }, { token: T2 }, undefined],
    ['bare header value', { authorization: T1 }, {}, undefined],
    ['Bearer with nothing', { authorization: 'Bearer ' }, {}, undefined],
    ['two words after Bearer', { authorization: 'Bearer a b' }, {}, undefined],
    ['empty query token', {}, { token: '' }, undefined],
    ['repeated query token (array)', {}, { token: [T1, T2] }, undefined],
    ['nothing', {}, {}, undefined],
  ])('%s', (_n, headers, query, expected) => {
    expect(extractToken(headers, query)).toBe(expected);
  });
});

describe('redactUrl', () => {
  it.each([
    ['/v1.0/recordings', '/v1.0/recordings'],
    [`/v1.0/recordings?token=${T1}`, '/v1.0/recordings?token=[redacted]'],
    [`/x?page_size=5&token=${T1}&status=available&page_token=abc`, '/x?page_size=5&token=[redacted]&status=available&page_token=abc'],
    [`/x?TOKEN=${T1}`, '/x?TOKEN=[redacted]'],
    [`/x?token=${T1}&token=${T2}`, '/x?token=[redacted]&token=[redacted]'],
    ['/x?page_token=abc', '/x?page_token=abc'],
    [`/x?token=${T1}#frag`, '/x?token=[redacted]#frag'],
    // every encoding of the name the query parser decodes to "token"
    [`/x?%74oken=${T1}`, '/x?%74oken=[redacted]'],
    [`/x?t%6Fken=${T1}`, '/x?t%6Fken=[redacted]'],
    [`/x?%54%4F%4B%45%4E=${T1}`, '/x?%54%4F%4B%45%4E=[redacted]'],
    [`/x?page_size=1;token=${T1}`, '/x?page_size=1;token=[redacted]'],
    [`/x?token%00=${T1}&bogus=${T1}`, '/x?token%00=[redacted]&bogus=[redacted]'],
    [`/x?+token=${T1}`, '/x?+token=[redacted]'],
    [`/x?%zz=${T1}`, '/x?%zz=[redacted]'],
    [`/x?token`, '/x?token=[redacted]'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('tokens file', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resolves known tokens to their customer and permissions, unknown ones to null', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokens-'));
    const path = join(dir, 'tokens.json');
    await writeFile(
      path,
      JSON.stringify({
        tokens: [
          { token: T1, customer_id: 'c1', permissions: ['recording.read', 'recording.write'] },
          { token: T2, customer_id: 'c2', permissions: ['read', 'export', 'read'] },
        ],
      }),
    );
    const auth = await loadTokensFile(path);
    expect(auth.size).toBe(2);
    expect(await auth.resolve(T1)).toEqual({ customer_id: 'c1', permissions: ['recording.read', 'recording.write'] });
    expect(await auth.resolve(T2)).toEqual({ customer_id: 'c2', permissions: ['recording.read', 'recording.export'] });
    expect(await auth.resolve(`${T1}x`)).toBeNull();
    expect(await auth.resolve(T1.slice(0, -1))).toBeNull();
    expect(await auth.resolve('')).toBeNull();
    // the returned principal is a copy
    const p = await auth.resolve(T1);
    p!.permissions.push('recording.delete');
    expect((await auth.resolve(T1))!.permissions).toEqual(['recording.read', 'recording.write']);
  });

  it.each([
    ['not an object', 'null', /expected \{"tokens"/],
    ['no tokens array', '{"token":[]}', /expected \{"tokens"/],
    ['short token', '{"tokens":[{"token":"short","customer_id":"c","permissions":[]}]}', /tokens\[0\]\.token/],
    ['token with spaces', `{"tokens":[{"token":"${T1} x","customer_id":"c","permissions":[]}]}`, /whitespace/],
    ['missing customer', `{"tokens":[{"token":"${T1}","permissions":[]}]}`, /customer_id/],
    ['empty customer', `{"tokens":[{"token":"${T1}","customer_id":"","permissions":[]}]}`, /tokens\[0\]\.customer_id: expected a customer id/],
    ['traversal customer', `{"tokens":[{"token":"${T1}","customer_id":"..","permissions":[]}]}`, /customer_id/],
    ['colon customer', `{"tokens":[{"token":"${T1}","customer_id":"a:status","permissions":[]}]}`, /customer_id/],
    ['unknown permission', `{"tokens":[{"token":"${T1}","customer_id":"c","permissions":["superuser"]}]}`, /unknown permission "superuser"/],
    ['duplicate token', `{"tokens":[{"token":"${T1}","customer_id":"c","permissions":[]},{"token":"${T1}","customer_id":"d","permissions":[]}]}`, /tokens\[1\].*duplicate/],
  ])('refuses %s with a clear message that never shows the token', (_n, text, message) => {
    let err: Error | undefined;
    try {
      parseTokensConfig(JSON.parse(text));
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain(T1);
  });

  it('a missing or invalid file is a clear error', async () => {
    await expect(loadTokensFile('/nonexistent/tokens.json')).rejects.toThrow(/cannot read \(ENOENT\)/);
    dir ??= await mkdtemp(join(tmpdir(), 'tokens-'));
    const bad = join(dir, 'bad.json');
    await writeFile(bad, `{"tokens":[{"token":"${T1}"`);
    const err = await loadTokensFile(bad).catch((e: Error) => e);
    expect(String(err)).toMatch(/not valid JSON/);
    expect(String(err)).not.toContain(T1);
  });
});

describe('TokenStoreAuthenticator and CompositeAuthenticator', () => {
  const store = {
    lookup: async (t: string) => (t === T2 ? { customer_id: 'c2', permissions: ['read', 'delete', 'bogus'] } : null),
  };

  it('maps stored short permission names and drops unknown ones', async () => {
    const a = new TokenStoreAuthenticator(store);
    expect(await a.resolve(T2)).toEqual({ customer_id: 'c2', permissions: ['recording.read', 'recording.delete'] });
    expect(await a.resolve(T1)).toBeNull();
  });

  it('asks each in order, first match wins', async () => {
    const file = new StaticAuthenticator([{ token: T1, customer_id: 'c1', permissions: ['recording.read'] }]);
    const c = new CompositeAuthenticator([file, new TokenStoreAuthenticator(store)]);
    expect((await c.resolve(T1))?.customer_id).toBe('c1');
    expect((await c.resolve(T2))?.customer_id).toBe('c2');
    expect(await c.resolve('other-token-0123456789')).toBeNull();
  });

  it('normalizePermission', () => {
    expect(normalizePermission('read')).toBe('recording.read');
    expect(normalizePermission('recording.export')).toBe('recording.export');
    expect(normalizePermission('admin')).toBe('recording.admin');
    expect(normalizePermission('superuser')).toBeUndefined();
    expect(normalizePermission(3)).toBeUndefined();
  });
});
