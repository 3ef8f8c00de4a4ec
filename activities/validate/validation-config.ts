/** The `data.validation` configuration, for code that takes it on its own (the validate activity). */
import type { z } from 'zod';
import { pipelineConfigSchema } from '../../contracts/pipeline-config';

/** The zod schema of `data.validation`, defaults included: parse({}) gives every default. */
export const dataValidationConfigSchema = pipelineConfigSchema.shape.data.unwrap().shape.validation;

export type DataValidationConfigInput = z.input<typeof dataValidationConfigSchema>;
