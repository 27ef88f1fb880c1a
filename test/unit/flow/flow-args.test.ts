import { describe, expect, it } from 'vitest';
import { parseFlowArgs } from '../../../src/flow/flow-args.js';

describe('parseFlowArgs', () => {
  it('reads the dialplan forms', () => {
    expect(parseFlowArgs(['recording_start'])).toEqual({ action: 'recording_start', options: { format: 'wav' }, customerId: undefined });
    expect(parseFlowArgs(['recording_start', 'format=wav', 'duration=30', 'end_of_key=#', 'beep_start=true', 'customer_id=c1'])).toEqual({
      action: 'recording_start',
      options: { format: 'wav', duration: 30, end_of_key: '#', beep_start: true },
      customerId: 'c1',
    });
    expect(parseFlowArgs(['recording_stop'])).toEqual({ action: 'recording_stop', customerId: undefined });
  });
  it('ignores channels that are not flow actions', () => {
    expect(parseFlowArgs([])).toBeNull();
    expect(parseFlowArgs(['something_else'])).toBeNull();
  });
  it('rejects bad options with the field', () => {
    expect(() => parseFlowArgs(['recording_start', 'format=mp3'])).toThrow(/format/);
    expect(() => parseFlowArgs(['recording_start', 'bogus=1'])).toThrow(/bogus/);
    expect(() => parseFlowArgs(['recording_start', 'novalue'])).toThrow(/key=value/);
    expect(() => parseFlowArgs(['recording_stop', 'duration=3'])).toThrow(/duration/);
  });
});
