import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { toHttpError } from '../../../src/http/errors.js';

describe('toHttpError: the one mapping from anything thrown to status + {code, message}', () => {
  it('AppError 4xx keeps its message and details', () => {
    expect(toHttpError(new AppError('VALIDATION', 'duration must be >= 0', { field: 'duration' }))).toEqual({
      status: 400,
      body: { code: 'validation_failed', message: 'duration must be >= 0', field: 'duration' },
    });
    expect(toHttpError(new AppError('RECORDING_EXPIRED', 'gone')).status).toBe(410);
  });

  it('AppError 5xx keeps its code, not its message or details', () => {
    const r = toHttpError(new AppError('STORAGE_UNAVAILABLE', 'local storage read /var/lib/x failed: EACCES', { cause: 'EACCES' }));
    expect(r).toEqual({ status: 503, body: { code: 'storage_unavailable', message: expect.any(String) } });
    expect(JSON.stringify(r)).not.toMatch(/var\/lib|EACCES/);
    expect(toHttpError(new AppError('ARI_REFUSED', 'x')).status).toBe(502);
  });

  it('Ajv validation errors: additionalProperties → unknown_option; others → validation_failed with field', () => {
    const unknown = Object.assign(new Error('x'), {
      validation: [{ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'colour' }, message: 'must NOT have additional properties' }],
      validationContext: 'body',
    });
    expect(toHttpError(unknown)).toEqual({ status: 400, body: { code: 'unknown_option', message: 'unknown field "colour"', field: 'colour' } });
    const type = Object.assign(new Error('x'), {
      validation: [{ keyword: 'type', instancePath: '/duration', params: { type: 'integer' }, message: 'must be integer' }],
      validationContext: 'body',
    });
    expect(toHttpError(type)).toEqual({ status: 400, body: { code: 'validation_failed', message: 'duration must be integer', field: 'duration' } });
    const required = Object.assign(new Error('x'), {
      validation: [{ keyword: 'required', instancePath: '', params: { missingProperty: 'recording_ids' }, message: 'x' }],
      validationContext: 'body',
    });
    expect(toHttpError(required).body).toMatchObject({ code: 'validation_failed', field: 'recording_ids' });
    const whole = Object.assign(new Error('x'), {
      validation: [{ keyword: 'type', instancePath: '', params: {}, message: 'must be object' }],
      validationContext: 'body',
    });
    expect(toHttpError(whole).body).toMatchObject({ code: 'validation_failed', field: 'body', message: 'body must be object' });
  });

  it('framework client errors keep their status with a stable code and a fixed message', () => {
    const e = Object.assign(new Error("'/v1.0/x?token=SECRET' is exceeding the max param length"), { code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 });
    expect(toHttpError(e)).toEqual({ status: 414, body: { code: 'uri_too_long', message: expect.any(String) } });
    expect(JSON.stringify(toHttpError(e))).not.toContain('SECRET');
    const tooBig = Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    expect(toHttpError(tooBig).body.code).toBe('payload_too_large');
    const odd = Object.assign(new Error('x'), { code: 'FST_ERR_SOMETHING', statusCode: 431 });
    expect(toHttpError(odd)).toEqual({ status: 431, body: { code: 'bad_request', message: 'bad request' } });
  });

  it('anything else is 500 internal_error without details', () => {
    for (const e of [new Error('db password is hunter2'), 'a string', null, undefined, { statusCode: 400, message: 'fake' }]) {
      expect(toHttpError(e)).toEqual({ status: 500, body: { code: 'internal_error', message: 'internal error' } });
    }
  });
});
