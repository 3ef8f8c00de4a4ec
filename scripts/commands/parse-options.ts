/** Validating a command's options with zod: every problem listed, exit code 2, nothing done. */
import type { Command } from 'commander';
import type { z } from 'zod';

/** The parsed options, or the command exits with each problem on its own line. */
export function parseOptions<Schema extends z.ZodType>(
  schema: Schema,
  raw: unknown,
  command: Command,
): z.output<Schema> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    command.error(
      `invalid options:\n${parsed.error.issues.map((issue) => `  - ${issue.message}`).join('\n')}`,
      {
        exitCode: 2,
        code: 'mlops.invalidOptions',
      },
    );
  }
  return parsed.data;
}
