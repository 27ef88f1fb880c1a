import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { AppError } from '../domain/errors.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

type Schema = Record<string, unknown>;

/**
 * Two validators: bodies are strict (no type coercion, unknown fields kept so they can be refused with
 * unknown_option), querystring and params are coerced from strings (`page_size=10` is an integer).
 */
export function createValidatorCompiler(sharedSchemas: Schema[]): FastifySchemaCompiler<Schema> {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });
  const coercing = new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: false });
  for (const ajv of [strict, coercing]) {
    addFormats(ajv);
    for (const s of sharedSchemas) ajv.addSchema(s);
  }

  return ({ schema, httpPart }) => {
    if (httpPart !== 'body') return coercing.compile(schema);
    const validate = strict.compile(schema);
    const required = Array.isArray(schema.required) && schema.required.length > 0;
    if (required) return validate;
    // An optional body may be absent (no body, an empty JSON body, or JSON null).
    const optional = ((data: unknown) => {
      if (data === undefined || data === null) return true;
      const ok = validate(data);
      optional.errors = validate.errors;
      return ok;
    }) as ValidateFunction;
    return optional;
  };
}

/** Turns Ajv errors into our AppError: unknown_option naming the field, or validation_failed with `field`. */
export function validationError(errors: readonly ErrorObject[] | undefined, part: string): AppError {
  const e = errors?.[0];
  if (!e) return new AppError('VALIDATION', `invalid ${part}`);
  if (e.keyword === 'additionalProperties') {
    const field = joinPath(e.instancePath, String((e.params as { additionalProperty: string }).additionalProperty));
    return new AppError('UNKNOWN_OPTION', `unknown field "${field}"`, { field });
  }
  if (e.keyword === 'required') {
    const field = joinPath(e.instancePath, String((e.params as { missingProperty: string }).missingProperty));
    return new AppError('VALIDATION', `${field} is required`, { field });
  }
  const field = joinPath(e.instancePath);
  const what = field === '' ? part : field;
  return new AppError('VALIDATION', `${what} ${e.message ?? 'is invalid'}`, field === '' ? { field: part } : { field });
}

function joinPath(instancePath: string, last?: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  if (last !== undefined) parts.push(last);
  return parts.join('.');
}
