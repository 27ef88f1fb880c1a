import { describe, expect, it } from 'vitest';
import { parseCustomerWebhookEntry, parseCustomerWebhooks } from '../../src/jobs/customer-webhooks.js';

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
