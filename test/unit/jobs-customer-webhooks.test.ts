import { describe, expect, it } from 'vitest';
import { parseCustomerWebhookEntry, parseCustomerWebhooks } from '../../src/jobs/customer-webhooks.js';
import { shownUrl, webhookUrlProblem } from '../../src/jobs/webhook-url.js';

const SECRET_A = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;

describe('tokens file: webhooks per customer', () => {
  it('reads each customer’s URLs and secret; none is an empty map', () => {
    const m = parseCustomerWebhooks({ 'cust-a': { urls: ['https://a.example/hook', 'https://a.example/hook', 'http://10.0.0.5:8080/x'], secret: SECRET_A } });
    expect([...m.keys()]).toEqual(['cust-a']);
    expect(m.get('cust-a')).toEqual({ urls: ['https://a.example/hook', 'http://10.0.0.5:8080/x'], secret: SECRET_A });
    expect(parseCustomerWebhooks(undefined).size).toBe(0);
  });

  it.each([
    [[], /expected an object of customer ids/],
    [{ '../x': { urls: ['https://a/'], secret: SECRET_A } }, /not a customer id/],
    [{ c1: { urls: [], secret: SECRET_A } }, /urls: expected 1 to 10 URLs/],
    [{ c1: { urls: ['ftp://a/'], secret: SECRET_A } }, /must be http\(s\)/],
    [{ c1: { urls: ['not a url'], secret: SECRET_A } }, /is not a URL/],
    [{ c1: { urls: ['https://u:p4ss@a.example/h?key=k3y'], secret: SECRET_A } }, /urls\[0\] https:\/\/a\.example\/h\?… must not hold a user or password/],
    [{ c1: { urls: ['https://a/', 42], secret: SECRET_A } }, /urls\[1\] is not a string/],
    [{ c1: { urls: ['https://a/'], secret: 'whsec_short' } }, /secret: expected whsec_/],
    [{ c1: { urls: ['https://a/'] } }, /secret: expected whsec_/],
    [{ c1: 'https://a/' }, /expected \{"urls"/],
    [{ c1: ['https://a/'] }, /expected \{"urls"/],
    [{ c1: { urls: Array.from({ length: 11 }, (_, i) => `https://a/${i}`), secret: SECRET_A } }, /urls: expected 1 to 10 URLs/],
  ])('refuses %j with a message naming the entry', (raw, re) => {
    expect(() => parseCustomerWebhooks(raw, 'tokens file t.json')).toThrow(re);
    expect(() => parseCustomerWebhooks(raw, 'tokens file t.json')).toThrow(/^tokens file t\.json: webhooks/);
  });
});

describe('one entry (the tokens file, Redis and the CLI check with it)', () => {
  it('returns the entry with duplicate URLs dropped', () => {
    expect(parseCustomerWebhookEntry('c1', { urls: ['https://a/', 'https://a/'], secret: SECRET_A }, 'here')).toEqual({ urls: ['https://a/'], secret: SECRET_A });
  });

  it.each([
    ['c:1', { urls: ['https://a/'], secret: SECRET_A }, /^here: not a customer id/],
    [42, { urls: ['https://a/'], secret: SECRET_A }, /^here: not a customer id/],
    ['c1', null, /^here: expected \{"urls"/],
    ['c1', { urls: 'https://a/', secret: SECRET_A }, /^here\.urls: expected 1 to 10 URLs/],
    ['c1', { urls: ['https://a/'], secret: 42 }, /^here\.secret: expected whsec_/],
  ])('refuses customer %j, entry %j, naming where', (customer, v, re) => {
    expect(() => parseCustomerWebhookEntry(customer, v, 'here')).toThrow(re);
  });

  it('never puts the secret in its message', () => {
    const bad = `whsec_${Buffer.alloc(10, 3).toString('base64')}`; // too short
    expect(() => parseCustomerWebhookEntry('c1', { urls: ['https://a/'], secret: bad }, 'here')).toThrow(/secret/);
    try {
      parseCustomerWebhookEntry('c1', { urls: ['https://a/'], secret: bad }, 'here');
    } catch (e) {
      expect((e as Error).message).not.toContain(bad);
    }
  });
});

describe('a destination\'s URL where it enters, and in logs', () => {
  it('refuses credentials in the URL (fetch would refuse every delivery) and keeps the password out of the reason', () => {
    expect(webhookUrlProblem('https://hooks.example/x?key=1')).toBeNull();
    expect(webhookUrlProblem('http://10.0.0.5:8080/x')).toBeNull();
    for (const u of ['https://user:s3cret@hooks.example/x', 'https://user@hooks.example/x', 'https://:s3cret@hooks.example/x']) {
      const why = webhookUrlProblem(u);
      expect(why, u).toMatch(/must not hold a user or password/);
      expect(why, u).not.toMatch(/s3cret|user@/);
    }
    expect(webhookUrlProblem('file:///etc/passwd')).toMatch(/must be http\(s\)/);
    expect(webhookUrlProblem('::')).toBe('is not a URL');
  });

  it('shows scheme, host and path only: a query (a receiver\'s key) and a user part are left out', () => {
    expect(shownUrl('https://hooks.example:8443/a/b?key=s3cret&x=1#f')).toBe('https://hooks.example:8443/a/b?…');
    expect(shownUrl('https://u:s3cret@hooks.example/a')).toBe('https://hooks.example/a');
    expect(shownUrl('http://[::1]:9/h')).toBe('http://[::1]:9/h');
    expect(shownUrl('not a url')).toBe('(not a URL)');
  });
});
