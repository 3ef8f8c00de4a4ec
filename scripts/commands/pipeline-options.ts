/** Options shared by the commands that start pipelines (`pipeline start`, `schedule create`). */
import fs from 'node:fs/promises';
import { z } from 'zod';

/** Model names become workflow ids, schedule ids and store folders. */
export const modelNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-_]*$/i, 'model names use letters, digits, - and _');

/** Reads a pipeline configuration file as JSON; it is validated by the caller against the schema. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
