/** `mlops data …`: synthetic dataset generation and feature-spec inference. */
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  CORRUPTION_KINDS,
  DEFAULT_IMAGE_SIZE,
  DEFAULT_SEED,
  generateDataset,
  type GenerateResult,
} from '../../lib/dataset/synthetic';
import { registerDescribeCommand } from './data-describe';
import { parseOptions } from './parse-options';

/** Commander hands over strings; the integer check happens here so "1e3" or "12abc" are refused, not coerced. */
const integerOption = (flag: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `${flag} must be a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${flag} must be at least ${min}`).max(max, `${flag} must be at most ${max}`));

const generateOptionsSchema = z
  .object({
    out: z
      .string()
      .trim()
      .min(1, '--out must name a folder')
      .refine(
        (value) => !value.startsWith('gs://'),
        '--out must be a local folder; copy it to a bucket afterwards',
      ),
    rows: integerOption('--rows', 1, 10_000_000),
    seed: integerOption('--seed', 0, 2 ** 32 - 1).default(DEFAULT_SEED),
    drift: z.boolean().default(false),
    corrupt: integerOption('--corrupt', 0, 10_000_000).default(0),
    imageSize: integerOption('--image-size', 16, 1024).default(DEFAULT_IMAGE_SIZE),
  })
  .refine((options) => options.corrupt <= options.rows, {
    message: '--corrupt cannot exceed --rows',
    path: ['corrupt'],
    // Comparing is meaningless while either number is itself invalid.
    when: (payload) => payload.issues.length === 0,
  });

function describeResult(result: GenerateResult, imageSize: number, seconds: number): string {
  const corrupted = CORRUPTION_KINDS.map(
    (kind) => [kind, result.corrupted.filter((row) => row.kind === kind).length] as const,
  )
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kind}×${count}`)
    .join(', ');
  return [
    `Generated ${result.rows} ads in ${seconds.toFixed(1)} s`,
    `  click rate    ${(result.clickRate * 100).toFixed(1)}%`,
    `  true AUC      ${Number.isNaN(result.trueAuc) ? 'n/a (one class only)' : result.trueAuc.toFixed(3)} (what a perfect model would score)`,
    `  ads           ${result.csvPath}`,
    `  images        ${path.join(result.outDir, 'images')} (${imageSize}×${imageSize} PNG)`,
    `  ground truth  ${result.groundTruthPath}`,
    `  corrupted     ${result.corrupted.length === 0 ? 'none' : `${result.corrupted.length} rows: ${corrupted}`}`,
  ].join('\n');
}

/** Adds `data generate` and `data describe` to the mlops program. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generate the demo dataset, describe your own');
  data
    .command('generate')
    .description(
      'write a synthetic ad dataset: ads.csv, PNG images, and ground_truth.csv of true click probabilities',
    )
    .requiredOption('--out <dir>', 'local folder to write into')
    .requiredOption('--rows <n>', 'number of ads')
    .option('--seed <s>', `random seed; the same seed gives identical files (default ${DEFAULT_SEED})`)
    .option('--drift', 'shift distributions (devices, hours, CTA colours, a new advertiser)')
    .option('--corrupt <k>', 'make exactly K rows bad, each in a detectable way')
    .option('--image-size <px>', `image side in pixels (default ${DEFAULT_IMAGE_SIZE})`)
    .action(async (raw: Record<string, unknown>, command: Command) => {
      const { out, rows, seed, drift, corrupt, imageSize } = parseOptions(
        generateOptionsSchema,
        { ...raw, drift: raw.drift === true },
        command,
      );
      const started = performance.now();
      const result = await generateDataset({
        outDir: path.resolve(out),
        rows,
        seed,
        drift,
        corrupt,
        imageSize,
      });
      console.log(describeResult(result, imageSize, (performance.now() - started) / 1000));
    });
  registerDescribeCommand(data);
}
