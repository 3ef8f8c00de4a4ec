/** `mlops models list|show`: the model registry, read straight from the store (no Temporal needed). */
import type { Command } from 'commander';
import { z } from 'zod';
import {
  ModelRegistry,
  normalizeVersion,
  type ModelAliases,
  type ModelVersionRecord,
} from '../../lib/registry';
import { readWorkerEnv } from '../../workers/env';
import { formatModelsTable, formatVersionDetails, formatVersionsTable } from './format-model';

const modelName = z.string().regex(/^[a-z0-9][a-z0-9-_]*$/i, 'model names use letters, digits, - and _');

const listOptionsSchema = z.object({
  model: modelName.optional(),
  store: z.string().min(1).optional(),
  json: z.boolean().optional(),
});

const showOptionsSchema = z.object({
  model: modelName,
  version: z
    .string()
    .refine((value) => normalizeVersion(value) !== undefined, 'versions are numbers like 3 (or v3)')
    .optional(),
  store: z.string().min(1).optional(),
  json: z.boolean().optional(),
});

function registryFor(store: string | undefined): ModelRegistry {
  return new ModelRegistry(store ?? readWorkerEnv().MLOPS_STORE);
}

/** The versions of `model`, or an error listing the models there are. */
async function versionsOf(registry: ModelRegistry, model: string): Promise<ModelVersionRecord[]> {
  const versions = await registry.listVersions(model);
  if (versions.length > 0) return versions;
  const models = await registry.listModels();
  throw new Error(
    `no model named ${model} in the registry at ${registry.storeUri}; ` +
      (models.length > 0
        ? `models: ${models.join(', ')}`
        : 'it is empty (no pipeline has registered a version yet)'),
  );
}

const versionList = (versions: ModelVersionRecord[]) =>
  versions.map((record) => `v${record.version}`).join(', ');

/** The record `mlops models show` prints: `version`, else production; errors say what exists. */
export async function findVersionToShow(
  registry: ModelRegistry,
  model: string,
  version?: string,
): Promise<{ record: ModelVersionRecord; aliases: ModelAliases }> {
  const versions = await versionsOf(registry, model);
  const aliases = await registry.getAliases(model);
  const wanted = version === undefined ? aliases.production : normalizeVersion(version);
  if (wanted === undefined) {
    throw new Error(
      `${model} has no production version; pass --version (versions: ${versionList(versions)})`,
    );
  }
  const record = versions.find((candidate) => candidate.version === wanted);
  if (!record)
    throw new Error(`${model} has no version ${version ?? wanted}; versions: ${versionList(versions)}`);
  return { record, aliases };
}

/** Registers `mlops models list` and `mlops models show`. */
export function registerModelsCommands(program: Command): void {
  const models = program
    .command('models')
    .description('the model registry: versions, status, metrics and lineage');
  models
    .command('list')
    .description('versions of a model, newest first; without --model, every model and its production version')
    .option('--model <name>', 'model name')
    .option('--store <uri>', 'artifact store (default: $MLOPS_STORE, else .mlops/store)')
    .option('--json', 'print the registry records as JSON')
    .action(async (raw: unknown) => {
      const options = listOptionsSchema.parse(raw);
      const registry = registryFor(options.store);
      if (options.model) {
        const versions = await versionsOf(registry, options.model);
        const aliases = await registry.getAliases(options.model);
        console.log(
          options.json
            ? JSON.stringify({ aliases, versions }, null, 2)
            : formatVersionsTable(versions, aliases),
        );
        return;
      }
      const summaries = await Promise.all(
        (await registry.listModels()).map(async (model) => ({
          model,
          aliases: await registry.getAliases(model),
          versions: await registry.listVersions(model),
        })),
      );
      console.log(options.json ? JSON.stringify(summaries, null, 2) : formatModelsTable(summaries));
    });
  models
    .command('show')
    .description('everything about one version: status, aliases, approvals, metrics, lineage')
    .requiredOption('--model <name>', 'model name')
    .option('--version <version>', 'version number (default: the production version)')
    .option('--store <uri>', 'artifact store (default: $MLOPS_STORE, else .mlops/store)')
    .option('--json', 'print the raw registry record')
    .action(async (raw: unknown) => {
      const options = showOptionsSchema.parse(raw);
      const { record, aliases } = await findVersionToShow(
        registryFor(options.store),
        options.model,
        options.version,
      );
      console.log(options.json ? JSON.stringify(record, null, 2) : formatVersionDetails(record, aliases));
    });
}
