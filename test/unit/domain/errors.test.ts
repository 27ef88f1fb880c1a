import { describe, expect, it } from 'vitest';
import { AppError, clientMessage } from '../../../src/domain/errors.js';

describe('clientMessage: what clients and webhooks may read', () => {
  it('codes whose messages hold internals get their public message', () => {
    expect(clientMessage(new AppError('STORAGE_UNAVAILABLE', "mkdir '/var/lib/x/.tmp' failed"))).toBe('storage was unavailable');
    expect(clientMessage(new AppError('MIXER_FAILED', "EACCES open '/spool/abc.wav'"))).toBe('the audio mixer failed');
  });
  it('other messages lose paths, URLs and host:ports; non-AppErrors give the fallback', () => {
    const m = clientMessage(new AppError('SETUP_FAILED', "open '/srv/spool/r.wav' via http://10.0.0.5:8088/ari at 10.0.0.5:8088 failed"));
    expect(m).not.toMatch(/srv|spool|10\.0\.0\.5|http:/);
    expect(m).toContain('<path>');
    expect(clientMessage(new Error('/etc/passwd'), 'setup failed')).toBe('setup failed');
    expect(clientMessage(new AppError('ARI_REFUSED', 'Asterisk refused the recording setup: Channel not found'))).toBe(
      'Asterisk refused the recording setup: Channel not found',
    );
  });
});
