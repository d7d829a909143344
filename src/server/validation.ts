/**
 * Fastify's request validation errors (ajv, against the contract's schemas) as the API's one error shape:
 * `{ error, field }`, the field being the query parameter, path parameter or body field at fault.
 */
import { HttpError } from './errors.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Fastify's ajv options for the contract: refuse what a schema does not declare (fastify's default,
 * removeAdditional: true, would silently drop an unknown parameter), coerce query strings to the declared
 * types, fill declared defaults.
 */
export const AJV_OPTIONS = { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } } as const;

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
