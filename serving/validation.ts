/** Turns ajv's validation errors into messages that name the offending field the way a client wrote it. */
import type { FastifySchemaValidationError } from 'fastify';

/** Formats the first validation error as e.g. `body.instances[3].hour must be integer`. */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const [first] = errors;
  if (!first) return new Error(`${dataVar} is invalid`);
  const where = dataVar + toFieldPath(first.instancePath);
  let message = `${where} ${first.message ?? 'is invalid'}`;
  // ajv leaves the unexpected field's name out of its message; a client needs it to fix the request.
  if (first.keyword === 'additionalProperties' && typeof first.params.additionalProperty === 'string') {
    message += `: ${first.params.additionalProperty}`;
  }
  return new Error(message);
}

function toFieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`))
    .join('');
}
