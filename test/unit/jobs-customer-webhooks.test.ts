import { describe, expect, it } from 'vitest';
import { parseCustomerWebhooks } from '../../src/jobs/customer-webhooks.js';

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
  ])('refuses %j with a message naming the entry', (raw, re) => {
    expect(() => parseCustomerWebhooks(raw, 'tokens file t.json')).toThrow(re);
  });
});
