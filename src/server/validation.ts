/**
 * Fastify's request validation errors (ajv, against the contract's schemas) as the API's one error shape:
 * `{ error, field }`, the field being the query parameter, path parameter or body field at fault.
 */
import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { HttpError } from './errors.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Validators for the contract's schemas: refuse what a schema does not declare (fastify's default,
 * removeAdditional: true, would silently drop an unknown parameter) and fill declared defaults. Query strings
 * and path parameters are text, so they are coerced to the declared types ("50" → 50); JSON bodies are not
 * (a number where a string is declared is a 400, not "7").
 */
const BASE: Options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false };
const coercing = new Ajv({ ...BASE, coerceTypes: 'array' });
const exact = new Ajv({ ...BASE, coerceTypes: false });

/** fastify's validatorCompiler for the API: `app.setValidatorCompiler(contractValidator)`. */
export function contractValidator({ schema, httpPart }: { schema: object; httpPart?: string }): ValidateFunction {
  return (httpPart === 'body' ? exact : coercing).compile(schema);
}


const WHERE: Record<string, string> = { querystring: 'query parameter', body: 'body field', params: 'path parameter', headers: 'header' };

/** An HTTP error that names the request field at fault. */
export class FieldError extends HttpError {
  constructor(
    readonly field: string,
    message: string,
    status = 400,
  ) {
    super(status, message);
  }
}

/** The 400 of a failed validation, or undefined when `err` is not one. */
export function validationError(err: unknown): FieldError | undefined {
  const e = err as { validation?: AjvError[]; validationContext?: string };
  const first = e.validation?.[0];
  if (!first) return undefined;
  const where = WHERE[e.validationContext ?? ''] ?? 'field';
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const join = (name: string): string => (path ? `${path}.${name}` : name);
  switch (first.keyword) {
    case 'additionalProperties': {
      const field = join(String(first.params.additionalProperty));
      return new FieldError(field, `unknown ${where} "${field}"`);
    }
    case 'required': {
      const field = join(String(first.params.missingProperty));
      return new FieldError(field, `${field}: required ${where}`);
    }
    case 'enum': {
      const allowed = (first.params.allowedValues as unknown[]).filter((v) => v !== '').join(', ');
      return new FieldError(path, `${path}: expected one of ${allowed}`);
    }
    case 'type':
      if (path === '' && where === 'body field') return new FieldError('body', 'body: expected a JSON object');
      return new FieldError(path, `${path}: ${first.message ?? 'wrong type'}`);
    default:
      return new FieldError(path || where, `${path || where}: ${first.message ?? 'invalid'}`);
  }
}
