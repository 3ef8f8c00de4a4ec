/**
 * Schema adoption: when a model retrained on data that moved on purpose reaches production, its
 * schema widens to that data, so later datasets like it validate cleanly.
 */
import { Context } from '@temporalio/activity';
import { reviseSchema, type EvolvingSchema } from './schema-evolution';
import { parseSchema } from './schema-inference';
import { schemaUriFor } from './schema-store';
import { STATISTICS_FORMAT, type DatasetStatistics } from '../../lib/dataset/statistics';
import { dataValidationConfigSchema, type DataValidationConfigInput } from './validation-config';
import { readJsonIfExists, updateJson } from '../../lib/storage/index';
import type { ActivityDeps } from '../deps';

export interface AdoptSchemaChangesInput {
  modelName: string;
  /** statistics.json of the validate stage whose data the schema is widened to. */
  statisticsUri: string;
  /** Why, recorded in the schema's revisions (e.g. "v2 reached production: retraining for drift"). */
  reason: string;
  /** data.validation, for maxDomainSize. */
  validation?: DataValidationConfigInput;
}

export interface AdoptSchemaChangesResult {
  schemaUri: string;
  /** What widened; empty when the schema already admitted the data (a retry, or a concurrent adoption). */
  changes: string[];
}

export function createSchemaActivities(deps: Pick<ActivityDeps, 'storeUri'>) {
  return {
    /** Widens the model's schema to the statistics, recording a revision; idempotent. */
    async adoptSchemaChanges(input: AdoptSchemaChangesInput): Promise<AdoptSchemaChangesResult> {
      const { maxDomainSize } = dataValidationConfigSchema.parse(input.validation ?? {});
      const statistics = await readJsonIfExists<DatasetStatistics>(input.statisticsUri);
      if (statistics?.format !== STATISTICS_FORMAT)
        throw new Error(
          `${input.statisticsUri} holds no ${STATISTICS_FORMAT} statistics to widen the schema to`,
        );
      const execution = Context.current().info.workflowExecution;
      const schemaUri = schemaUriFor(deps.storeUri, input.modelName);
      let changes: string[] = [];
      await updateJson<EvolvingSchema>(schemaUri, (stored) => {
        if (stored === undefined)
          throw new Error(`${input.modelName} has no schema at ${schemaUri} to widen`);
        const current: EvolvingSchema = parseSchema(stored, schemaUri);
        const revised = reviseSchema(
          current,
          statistics,
          {
            at: new Date().toISOString(),
            by: { workflowId: execution?.workflowId ?? '', runId: execution?.runId ?? '' },
            reason: input.reason,
          },
          { maxDomainSize },
        );
        changes = revised === current ? [] : (revised.revisions?.at(-1)?.changes ?? []);
        return revised;
      });
      return { schemaUri, changes };
    },
  };
}
