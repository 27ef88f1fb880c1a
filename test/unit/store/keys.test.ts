import { describe, expect, it } from 'vitest';
import { RecordingStatuses } from '../../../src/domain/recording.js';
import { RedisKeys } from '../../../src/store/keys.js';

/** No id from outside can spell another key: every key built from hostile ids is distinct from every other. */
describe('RedisKeys', () => {
  const k = new RedisKeys('p');
  const ids = ['a', 'a:status:available', 'a:exports', 'x', 'x:recording_ids', 'a%3Astatus', '%', ':', 'b:c:d'];

  it('keys of different things or different ids never collide', () => {
    const all = new Map<string, string>();
    const add = (what: string, key: string) => {
      expect(all.get(key), `${what} collides with ${all.get(key)}: ${key}`).toBeUndefined();
      all.set(key, what);
    };
    for (const id of ids) {
      add(`recording ${id}`, k.recording(id));
      add(`export ${id}`, k.export(id));
      add(`customer ${id}`, k.customerRecordings(id));
      add(`customer webhooks ${id}`, k.customerWebhooks(id));
      for (const s of RecordingStatuses) add(`customer ${id} status ${s}`, k.customerStatus(id, s));
      for (const t of ['call', 'conference'] as const) {
        add(`ref ${t} ${id}`, k.reference(t, id));
        add(`ref ids ${t} ${id}`, k.referenceRecordingIds(t, id));
      }
    }
    for (const s of RecordingStatuses) add(`status ${s}`, k.status(s));
    add('customer webhooks index', k.customerWebhooksIndex());
  });

  it('plain ids (uuids, Asterisk channel ids) are unchanged; every key starts with the prefix as a hash tag', () => {
    expect(k.recording('7c9e6679-7425-40de-944b-e07fc1f90ae7')).toBe('{p}:rec:7c9e6679-7425-40de-944b-e07fc1f90ae7');
    expect(k.reference('call', '1795579021.0')).toBe('{p}:ref:call:1795579021.0');
    expect(k.customerStatus('cust-a', 'available')).toBe('{p}:idx:customer:cust-a:status:available');
    expect(k.customerWebhooks('cust-a')).toBe('{p}:customer_webhooks:cust-a');
    expect(k.customerWebhooksIndex()).toBe('{p}:idx:customer_webhooks');
    expect(k.bullPrefix).toBe('{p:bull}');
  });

  it('patterns() covers the store and BullMQ keys of its prefix only, glob characters escaped', () => {
    expect(k.patterns()).toEqual(['{p}:*', '{p:bull}:*']);
    expect(new RedisKeys('a*b?[c]').patterns()).toEqual(['{a\\*b\\?\\[c\\]}:*', '{a\\*b\\?\\[c\\]:bull}:*']);
  });
});
