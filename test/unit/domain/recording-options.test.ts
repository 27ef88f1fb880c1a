import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { parseRecordingOptions } from '../../../src/domain/recording-options.js';
import { canTransition, RecordingStatuses } from '../../../src/domain/recording.js';

describe('parseRecordingOptions', () => {
  it('channels: 1 (the default, not stored) or 2; anything else names the field', () => {
    expect(parseRecordingOptions({ channels: 2, sample_rate: 16000 })).toEqual({ format: 'wav', channels: 2, sample_rate: 16000 });
    expect(parseRecordingOptions({ channels: 1 })).toEqual({ format: 'wav' });
    for (const bad of [0, 3, '2', 1.5]) expect(() => parseRecordingOptions({ channels: bad }), String(bad)).toThrow(/channels must be 1 or 2/);
  });

  it('sample_rate: 8000 (the default, not stored) or 16000; anything else names the field', () => {
    expect(parseRecordingOptions({ sample_rate: 16000 })).toEqual({ format: 'wav', sample_rate: 16000 });
    expect(parseRecordingOptions({ sample_rate: 8000 })).toEqual({ format: 'wav' });
    for (const bad of [44100, '16000', 16000.5, null]) {
      expect(() => parseRecordingOptions({ sample_rate: bad }), String(bad)).toThrow(AppError);
      try {
        parseRecordingOptions({ sample_rate: bad });
      } catch (e) {
        expect((e as AppError).details).toMatchObject({ field: 'sample_rate' });
      }
    }
  });

  it('accepts VoIPBIN options', () => {
    expect(parseRecordingOptions(undefined)).toEqual({ format: 'wav' });
    expect(parseRecordingOptions({ format: 'wav', duration: 60, end_of_silence: 5, end_of_key: '#', beep_start: true })).toEqual({
      format: 'wav',
      duration: 60,
      end_of_silence: 5,
      end_of_key: '#',
      beep_start: true,
    });
  });

  it.each([
    [{ colour: 'red' }, 'unknown_option', 'colour'],
    [{ format: 'mp3' }, 'validation_failed', 'format'],
    [{ duration: -1 }, 'validation_failed', 'duration'],
    [{ duration: 1.5 }, 'validation_failed', 'duration'],
    [{ duration: '10' }, 'validation_failed', 'duration'],
    [{ end_of_silence: 99999 }, 'validation_failed', 'end_of_silence'],
    [{ end_of_key: '##' }, 'validation_failed', 'end_of_key'],
    [{ end_of_key: 'x' }, 'validation_failed', 'end_of_key'],
    [{ beep_start: 'yes' }, 'validation_failed', 'beep_start'],
    [[1], 'validation_failed', 'body'],
  ])('rejects %j with %s naming %s', (input, code, field) => {
    try {
      parseRecordingOptions(input);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe(code);
      expect((e as AppError).details?.field).toBe(field);
    }
  });
});

describe('recording state machine', () => {
  const order = ['starting', 'recording', 'stopping', 'available'] as const;
  it('moves forward only', () => {
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) {
        if (j <= i) expect(canTransition(order[i], order[j])).toBe(false);
      }
    }
    expect(canTransition('starting', 'recording')).toBe(true);
    expect(canTransition('recording', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'available')).toBe(true);
  });
  it('has one loop: recording ⇄ paused; a paused recording stops and fails like a running one, never starts over', () => {
    expect(canTransition('recording', 'paused')).toBe(true);
    expect(canTransition('paused', 'recording')).toBe(true);
    expect(canTransition('paused', 'stopping')).toBe(true);
    expect(canTransition('paused', 'failed')).toBe(true);
    expect(canTransition('paused', 'starting')).toBe(false);
    expect(canTransition('paused', 'available')).toBe(false);
    expect(canTransition('stopping', 'paused')).toBe(false);
    expect(canTransition('starting', 'paused')).toBe(false);
  });
  it('has terminal states', () => {
    for (const s of RecordingStatuses) expect(canTransition('deleted', s)).toBe(false);
    expect(canTransition('failed', 'recording')).toBe(false);
    expect(canTransition('available', 'failed')).toBe(false);
  });
});
