/**
 * Evaluate: score the candidate and the production model on the same eval split, and bless the
 * candidate only if it clears the absolute and relative thresholds.
 */
import { log } from '@temporalio/activity';
import type { PipelineConfig } from '../lib/config-schema';
import { readShard } from '../lib/dataset/shards';
import { computeAuc, computeLogLoss } from '../lib/metrics';
import { disposeModel, loadModelBundle, predictProbabilities } from '../lib/model';
import { joinUri, writeJson } from '../lib/storage';
import type { ModelMetrics } from '../workflows/definitions';
import { type ActivityDeps, stageUri } from './deps';

export interface EvaluateInput {
  candidateModelUri: string;
  evalUri: string;
  production?: { version: string; modelUri: string };
  thresholds: PipelineConfig['evaluate'];
}

export interface EvaluationResult {
  candidate: ModelMetrics;
  production?: ModelMetrics & { version: string };
  blessed: boolean;
  /** Why the candidate was not blessed, one line per failed threshold. */
  failures: string[];
  reportUri: string;
}

async function scoreModel(modelUri: string, evalUri: string): Promise<ModelMetrics> {
  // The shard first: were it read alongside and failed, the model already loaded would never be freed.
  const { examples } = await readShard(evalUri);
  const bundle = await loadModelBundle(modelUri);
  try {
    const scores = await predictProbabilities(bundle, examples);
    const labels = examples.map((example) => example.clicked);
    return {
      auc: computeAuc(labels, scores),
      logLoss: computeLogLoss(labels, scores),
      count: examples.length,
    };
  } finally {
    disposeModel(bundle.model);
  }
}

export function createEvaluateActivities(deps: ActivityDeps) {
  return {
    /** Computes AUC and log loss for the candidate (and production), and decides the blessing. */
    async evaluateModel(input: EvaluateInput): Promise<EvaluationResult> {
      const candidate = await scoreModel(input.candidateModelUri, input.evalUri);
      let production: EvaluationResult['production'];
      if (input.production) {
        try {
          production = {
            ...(await scoreModel(input.production.modelUri, input.evalUri)),
            version: input.production.version,
          };
        } catch (err) {
          // A production model we cannot score (other image size, deleted files) must not block a
          // new candidate forever; the reviewer sees that no comparison was made.
          log.warn('could not score the production model on this eval split', {
            error: (err as Error).message,
          });
        }
      }
      const { minAuc, maxAucDropVsProduction } = input.thresholds;
      const failures: string[] = [];
      if (candidate.auc < minAuc) {
        failures.push(`AUC ${candidate.auc.toFixed(4)} is below the minimum ${minAuc} (evaluate.minAuc)`);
      }
      if (production && candidate.auc < production.auc - maxAucDropVsProduction) {
        failures.push(
          `AUC ${candidate.auc.toFixed(4)} is ${(production.auc - candidate.auc).toFixed(4)} below production ` +
            `v${production.version} (${production.auc.toFixed(4)}); allowed drop is ${maxAucDropVsProduction} ` +
            `(evaluate.maxAucDropVsProduction)`,
        );
      }
      const result: EvaluationResult = {
        candidate,
        ...(production ? { production } : {}),
        blessed: failures.length === 0,
        failures,
        reportUri: joinUri(stageUri(deps.storeUri, 'evaluate'), 'report.json'),
      };
      await writeJson(result.reportUri, result);
      return result;
    },
  };
}
