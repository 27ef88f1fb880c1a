import { describe, expect, it } from 'vitest';
import { newRecording, type Recording, type RecordingStatus } from '../../../src/domain/recording.js';
import { classifyRecording, manifestRecording, recordingFile, uniqueIds } from '../../../src/export/manifest.js';

function rec(status: RecordingStatus, over: Partial<Recording> = {}): Recording {
  const r = newRecording({ id: 'r1', customer_id: 'c1', reference_type: 'call', reference_id: 'call-1', now: new Date('2024-01-02T03:04:05Z') });
  return { ...r, status, storage_key: status === 'available' ? 'c1/r1.wav' : undefined, ...over };
}

describe('export manifest', () => {
  it.each([
    ['unknown id', null, 'not_found'],
    ['another customer (never revealed)', rec('available', { customer_id: 'c2' }), 'not_found'],
    ['another customer, deleted (still not_found)', rec('deleted', { customer_id: 'c2' }), 'not_found'],
    ['deleted', rec('deleted'), 'deleted'],
    ['recording', rec('recording'), 'not_available'],
    ['stopping', rec('stopping'), 'not_available'],
    ['failed', rec('failed'), 'not_available'],
    ['available without a storage key', rec('available', { storage_key: undefined }), 'not_available'],
    ['available', rec('available'), 'export'],
  ] as const)('%s → %s', (_name, r, want) => {
    expect(classifyRecording(r, 'c1')).toBe(want);
  });

  it('names recordings safely inside the archive', () => {
    expect(recordingFile({ id: '0b3c6a2e-1111-4222-8333-944445555666', format: 'wav' })).toBe('recordings/0b3c6a2e-1111-4222-8333-944445555666.wav');
    expect(recordingFile({ id: '../x/y', format: 'wav' })).toBe('recordings/__x_y.wav');
  });

  it('shows metadata without storage internals and without unset fields', () => {
    const m = manifestRecording(rec('available', { duration_ms: 1500, size_bytes: 24044, checksum_md5: 'abc==', tm_end: '2024-01-02T03:04:07Z' }), 24044);
    expect(m).toEqual({
      id: 'r1',
      file: 'recordings/r1.wav',
      size_bytes: 24044,
      checksum_md5: 'abc==',
      reference_type: 'call',
      reference_id: 'call-1',
      format: 'wav',
      sample_rate: 8000,
      channels: 1,
      duration_ms: 1500,
      tm_end: '2024-01-02T03:04:07Z',
      tm_create: '2024-01-02T03:04:05.000Z',
    });
    expect(m).not.toHaveProperty('storage_key');
    expect(m).not.toHaveProperty('customer_id');
  });

  it('keeps request order and drops repeats', () => {
    expect(uniqueIds(['b', 'a', 'b', 'c', 'a'])).toEqual(['b', 'a', 'c']);
  });
});
