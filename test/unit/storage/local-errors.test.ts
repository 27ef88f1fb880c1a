import { describe, expect, it } from 'vitest';
import { storageError } from '../../../src/storage/local.js';

const fsError = (code: string) => Object.assign(new Error(`${code}: something at '/var/lib/rec/x.wav'`), { code });

describe('local storage errors: what another attempt can mend', () => {
  it.each(['ENOSPC', 'EIO', 'EMFILE', 'ENOTDIR'])('%s → storage_unavailable, retryable', (code) => {
    const err = storageError('put a/b.wav', fsError(code));
    expect(err).toMatchObject({ code: 'storage_unavailable', status: 503, retryable: true, details: { cause: code } });
  });

  it.each(['EACCES', 'EPERM', 'EROFS'])('%s → storage_refused, not retryable', (code) => {
    const err = storageError('put a/b.wav', fsError(code));
    expect(err).toMatchObject({ code: 'storage_refused', status: 502, retryable: false, details: { cause: code } });
  });
});
