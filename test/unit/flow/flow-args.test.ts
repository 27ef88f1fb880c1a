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
    expect(parseFlowArgs(['recording_start', 'sample_rate=16000'])).toMatchObject({ options: { format: 'wav', sample_rate: 16000 } });
    expect(parseFlowArgs(['recording_pause'])).toEqual({ action: 'recording_pause', behavior: 'skip', customerId: undefined });
    expect(parseFlowArgs(['recording_pause', 'pause_behavior=silence', 'customer_id=c1'])).toEqual({ action: 'recording_pause', behavior: 'silence', customerId: 'c1' });
    expect(parseFlowArgs(['recording_resume'])).toEqual({ action: 'recording_resume', customerId: undefined });
    expect(() => parseFlowArgs(['recording_pause', 'pause_behavior=mute'])).toThrow(/pause_behavior must be skip or silence/);
    expect(() => parseFlowArgs(['recording_resume', 'x=1'])).toThrow(/recording_resume takes no option "x"/);
  });
  it('ignores a channel that entered Stasis without arguments; refuses an unknown action (the caller goes back to the dialplan)', () => {
    expect(parseFlowArgs([])).toBeNull();
    expect(() => parseFlowArgs(['something_else'])).toThrow(/unknown flow action "something_else"/);
    expect(() => parseFlowArgs(['recording_strat'])).toThrow(/expected one of recording_start/);
  });
  it('reads the action as Asterisk passes it: untrimmed (a space after the comma), in any case; an empty argument is no option', () => {
    // Stasis(recorder, recording_start, format=wav) arrives as [" recording_start"," format=wav"] (Asterisk 22)
    expect(parseFlowArgs([' recording_start', ' format=wav'])).toEqual({ action: 'recording_start', options: { format: 'wav' }, customerId: undefined });
    expect(parseFlowArgs(['Recording_Stop '])).toEqual({ action: 'recording_stop', customerId: undefined });
    // Stasis(recorder,recording_start,${REC_OPTS}) with REC_OPTS unset arrives as ["recording_start",""]
    expect(parseFlowArgs(['recording_start', ''])).toEqual({ action: 'recording_start', options: { format: 'wav' }, customerId: undefined });
    expect(parseFlowArgs(['recording_stop', ' ', ''])).toEqual({ action: 'recording_stop', customerId: undefined });
  });
  it('rejects bad options with the field', () => {
    expect(() => parseFlowArgs(['recording_start', 'format=mp3'])).toThrow(/format/);
    expect(() => parseFlowArgs(['recording_start', 'bogus=1'])).toThrow(/bogus/);
    expect(() => parseFlowArgs(['recording_start', 'novalue'])).toThrow(/key=value/);
    expect(() => parseFlowArgs(['recording_stop', 'duration=3'])).toThrow(/duration/);
  });
  it('empty means unset: customer_id= and other empty values fall back to their defaults', () => {
    expect(parseFlowArgs(['recording_start', 'customer_id=', 'duration=', 'format=wav'])).toEqual({ action: 'recording_start', options: { format: 'wav' }, customerId: undefined });
    expect(parseFlowArgs(['recording_stop', 'customer_id= '])).toEqual({ action: 'recording_stop', customerId: undefined });
  });
  it('refuses a customer_id that is not a customer id, naming it', () => {
    for (const bad of ['..', '.', 'a/b', 'cust:a', 'x'.repeat(65), 'é']) {
      expect(() => parseFlowArgs(['recording_start', `customer_id=${bad}`]), bad).toThrow(/customer_id/);
    }
  });
});
