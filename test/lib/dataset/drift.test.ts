import assert from 'node:assert/strict';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import { before, describe, it } from 'node:test';
import {
  driftAnomalies,
  jensenShannonDivergence,
  measureDrift,
  populationStabilityIndex,
} from '../../../lib/dataset/drift';
import type { DriftOptions } from '../../../contracts/drift';
import {
  computeStatistics,
  truncateVocabularies,
  type DatasetStatistics,
} from '../../../lib/dataset/statistics';
import { dataValidationConfigSchema } from '../../../activities/validate/validation-config';
import { makeSyntheticShards } from '../../helpers/synthetic-shards';

const DEFAULTS: DriftOptions = dataValidationConfigSchema.parse({}).drift;
const ROWS = 1000;

/** Statistics of a generated dataset, as stored in statistics.json and read back as a baseline. */
async function syntheticStatistics(seed: number, drift: boolean): Promise<DatasetStatistics> {
  await using shards = await makeSyntheticShards({ rows: ROWS, seed, drift });
  const statistics = await computeStatistics(
    [
      { name: 'train', shardUris: [shards.ingest.trainUri] },
      { name: 'eval', shardUris: [shards.ingest.evalUri] },
    ],
    { spec: ADS_FEATURE_SPEC },
  );
  return truncateVocabularies(statistics, 1000);
}

void describe('populationStabilityIndex and jensenShannonDivergence', () => {
  void it('match values worked by hand', () => {
    // (0.25 − 0.5) ln 0.5 + (0.75 − 0.5) ln 1.5
    assert.ok(Math.abs(populationStabilityIndex([50, 50], [25, 75]) - 0.2747) < 1e-4);
    assert.equal(populationStabilityIndex([10, 20, 30], [1, 2, 3]), 0);
    assert.equal(jensenShannonDivergence([3, 0], [0, 7]), 1);
    assert.equal(jensenShannonDivergence([1, 2], [2, 4]), 0);
    // The synthetic device mix shift: 55/35/10 → 35/25/40.
    assert.ok(Math.abs(jensenShannonDivergence([55, 35, 10], [35, 25, 40]) - 0.0917) < 1e-3);
  });

  void it('keeps PSI finite when a bin is empty on one side', () => {
    const psi = populationStabilityIndex([100, 0], [50, 50]);
    assert.ok(Number.isFinite(psi) && psi > 1, String(psi));
  });
});

void describe('measureDrift on synthetic data', () => {
  let baseline: DatasetStatistics;
  let same: DatasetStatistics;
  let drifted: DatasetStatistics;

  before(async () => {
    [baseline, same, drifted] = await Promise.all([
      syntheticStatistics(11, false),
      syntheticStatistics(12, false),
      syntheticStatistics(13, true),
    ]);
  });

  void it('finds no drift in a new sample of the same distribution', () => {
    const result = measureDrift(baseline, same, DEFAULTS);
    assert.equal(result.measured, true);
    const measured = Object.fromEntries(result.features.map((drift) => [drift.feature, drift]));
    assert.deepEqual(Object.keys(measured).sort(), [
      'advertiser',
      'category',
      'clicked',
      'device',
      'headline_length',
      'hour',
      'placement',
    ]);
    for (const drift of result.features) assert.equal(drift.level, 'none', JSON.stringify(drift));
    assert.equal(measured.hour!.metric, 'psi');
    assert.equal(measured.device!.metric, 'jensen_shannon');
    assert.deepEqual(driftAnomalies(result, DEFAULTS), []);
  });

  void it('flags the drifted features (hour, device, a new advertiser) and only those', () => {
    const result = measureDrift(baseline, drifted, DEFAULTS);
    const levels = Object.fromEntries(result.features.map((drift) => [drift.feature, drift.level]));
    assert.equal(levels.hour, 'critical');
    assert.equal(levels.device, 'critical');
    assert.equal(levels.advertiser, 'critical');
    for (const unchanged of ['category', 'placement', 'headline_length']) {
      assert.equal(levels[unchanged], 'none', `${unchanged}: ${JSON.stringify(result.features)}`);
    }
    const hour = result.features.find((drift) => drift.feature === 'hour')!;
    assert.ok(hour.value > 1, `hour PSI ${hour.value}`);
    assert.ok(hour.noise > 0 && hour.noise < 0.05, `hour noise ${hour.noise}`);
  });

  void it('reports drift as warnings by default and as critical anomalies when failOnCritical is set', () => {
    const result = measureDrift(baseline, drifted, DEFAULTS);
    const warnings = driftAnomalies(result, DEFAULTS);
    assert.ok(warnings.length >= 3);
    assert.ok(warnings.every((anomaly) => anomaly.severity === 'warning' && anomaly.kind === 'drift'));
    const hour = warnings.find((anomaly) => anomaly.feature === 'hour')!;
    assert.match(
      hour.message,
      /^hour: major drift from the production model's training data: PSI \d+\.\d{3}, less 0\.\d{3} of sampling noise, > 0\.25 \(data\.validation\.drift\.psiCritical\)$/,
    );
    const failing = driftAnomalies(result, { ...DEFAULTS, failOnCritical: true });
    assert.equal(failing.find((anomaly) => anomaly.feature === 'hour')!.severity, 'critical');
  });

  void it('does not measure drift on fewer rows than drift.minRows, saying so', () => {
    const result = measureDrift(baseline, same, { ...DEFAULTS, minRows: ROWS + 1 });
    assert.equal(result.measured, false);
    assert.deepEqual(result.features, []);
    assert.match(result.skippedReason!, /at least 1001 on each side \(data\.validation\.drift\.minRows\)/);
  });
});
