import { describe, expect, it } from 'vitest';
import { isCustomerId, unsetIfEmpty } from '../../../src/domain/customer-id.js';
import { isStorageKey, storageKey } from '../../../src/domain/storage-key.js';
import { channelOwner, conferenceOwner } from '../../../src/recorder/ownership.js';

describe('customer ids', () => {
  it('1–64 of [A-Za-z0-9._-], never . or ..', () => {
    for (const ok of ['a', 'cust-1', 'A.b_c-9', 'x'.repeat(64), '...']) expect(isCustomerId(ok), ok).toBe(true);
    for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'x'.repeat(65), '\u0000', 'ü', 7, null, undefined]) expect(isCustomerId(bad), String(bad)).toBe(false);
  });
  it('empty means unset', () => {
    expect(unsetIfEmpty('')).toBeUndefined();
    expect(unsetIfEmpty('  ')).toBeUndefined();
    expect(unsetIfEmpty(undefined)).toBeUndefined();
    expect(unsetIfEmpty('c1')).toBe('c1');
  });
});

describe('ownership of calls and conferences', () => {
  it('a channel is owned by its CUSTOMER_ID; "" (Asterisk for unset) means untagged; a bad value throws', () => {
    expect(channelOwner({ id: 'c', channelvars: { CUSTOMER_ID: 'cust-7' } })).toBe('cust-7');
    expect(channelOwner({ id: 'c', channelvars: { CUSTOMER_ID: '' } })).toBeUndefined();
    expect(channelOwner({ id: 'c' })).toBeUndefined();
    expect(() => channelOwner({ id: 'c', channelvars: { CUSTOMER_ID: '../x' } })).toThrow(/CUSTOMER_ID/);
  });
  it('a conference: its participants’ one customer, the default when none is tagged, nobody when they disagree', () => {
    const ch = (c: string) => ({ id: c || 'u', channelvars: { CUSTOMER_ID: c } });
    expect(conferenceOwner([ch(''), ch('')], 'dflt')).toBe('dflt');
    expect(conferenceOwner([], 'dflt')).toBe('dflt');
    expect(conferenceOwner([ch('b'), ch(''), ch('b')], 'dflt')).toBe('b');
    expect(conferenceOwner([ch('a'), ch('b')], 'dflt')).toBeNull();
  });
});

describe('storage keys', () => {
  it('customer/day/id.wav; a key that can never be valid is refused with a code', () => {
    const tm_create = '2026-11-29T10:00:00.000Z';
    expect(storageKey({ id: 'r1', customer_id: 'c1', tm_create })).toBe('c1/2026-11-29/r1.wav');
    expect(() => storageKey({ id: 'r1', customer_id: '', tm_create })).toThrow(expect.objectContaining({ code: 'invalid_storage_key' }));
    expect(() => storageKey({ id: 'r1', customer_id: '..', tm_create })).toThrow(expect.objectContaining({ code: 'invalid_storage_key' }));
    for (const bad of ['', '/a', 'a//b', 'a/../b', './a', 'a\\b', 'a\u0000']) expect(isStorageKey(bad), bad).toBe(false);
  });
});
