import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  approvalDetailsMarkdown,
  formatDuration,
  MAX_SLICE_ROWS,
  type ApprovalDetailsInput,
} from '../../../workflows/pipeline/approval-details';
import type { EvaluationSummary, SliceComparison } from '../../../contracts/evaluation';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const HOUR = 3_600_000;

function slice(
  feature: SliceComparison['feature'],
  value: string,
  count: number,
  candidateAuc: number | null,
  productionAuc?: number | null,
): SliceComparison {
  const metrics = (auc: number | null) => ({ auc, logLoss: 0.4, accuracy: 0.8, ece: 0.03 });
  return {
    feature,
    value,
    count,
    clickRate: 0.2,
    candidate: metrics(candidateAuc),
    ...(productionAuc === undefined ? {} : { production: metrics(productionAuc) }),
  };
}

function evaluation(overrides: Partial<EvaluationSummary> = {}): EvaluationSummary {
  return {
    candidate: { auc: 0.7312, logLoss: 0.4521, accuracy: 0.81, ece: 0.031, clickRate: 0.2, count: 1000 },
    production: { auc: 0.7101, logLoss: 0.4702, accuracy: 0.8, ece: 0.045, count: 1000, version: '6' },
    slices: [
      slice('device', 'mobile', 600, 0.74, 0.7),
      slice('device', 'desktop', 396, 0.7, 0.71),
      slice('device', 'tv', 4, null, null),
      slice('placement', 'feed', 700, 0.75, 0.72),
      slice('placement', 'sidebar', 300, 0.6, 0.65),
    ],
    blessed: true,
    failures: [],
    reportUri: '/store/runs/w/r/evaluate/report.json',
    reportMarkdownUri: '/store/runs/w/r/evaluate/report.md',
    ...overrides,
  };
}

function input(overrides: Partial<ApprovalDetailsInput> = {}): ApprovalDetailsInput {
  return {
    modelName: 'ctr',
    candidateVersion: '7',
    evaluation: evaluation(),
    warnings: [],
    deadline: new Date(NOW.getTime() + 72 * HOUR - 30_000),
    now: NOW,
    timeoutOutcome: 'reject',
    ...overrides,
  };
}

void describe('formatDuration', () => {
  void it('shows hours and minutes, minutes alone under an hour', () => {
    assert.equal(formatDuration(72 * HOUR - 30_000), '71h 59m');
    assert.equal(formatDuration(72 * HOUR), '72h 0m');
    assert.equal(formatDuration(12 * 60_000 + 59_000), '12m');
    assert.equal(formatDuration(HOUR), '1h 0m');
  });

  void it('says <1m for the last minute and 0m once past', () => {
    assert.equal(formatDuration(59_000), '<1m');
    assert.equal(formatDuration(0), '0m');
    assert.equal(formatDuration(-5 * HOUR), '0m');
    assert.equal(formatDuration(Number.NaN), '0m');
  });
});

void describe('approvalDetailsMarkdown', () => {
  void it('shows the spec change against production beside the metrics, or none without a comparison', () => {
    const changed = approvalDetailsMarkdown(
      input({
        evaluation: evaluation({
          featureSpec: {
            productionVersion: '6',
            changes: [{ subject: 'ad_age_days', change: 'added', detail: 'numeric' }],
          },
        }),
      }),
    );
    assert.match(changed, /^\*\*Feature spec vs production v6: 1 change\*\*$/m);
    assert.match(changed, /^- added \*\*ad\\_age\\_days\*\*: numeric \(clients must send it\)$/m);
    assert.ok(changed.indexOf('Feature spec') > changed.indexOf('| AUC |'), 'after the metrics');
    assert.doesNotMatch(approvalDetailsMarkdown(input()), /Feature spec/);
  });

  void it('compares the candidate with production, with deltas', () => {
    const markdown = approvalDetailsMarkdown(input());
    assert.match(markdown, /^## ctr v7 is waiting for approval\n/);
    assert.match(markdown, /\| metric \| candidate v7 \| production v6 \| Δ \|/);
    assert.match(markdown, /\| AUC \| 0\.7312 \| 0\.7101 \| \+0\.0211 \|/);
    assert.match(markdown, /\| log loss \| 0\.4521 \| 0\.4702 \| -0\.0181 \|/);
    assert.match(markdown, /\| accuracy \| 0\.8100 \| 0\.8000 \| \+0\.0100 \|/);
    assert.match(markdown, /\| ECE \| 0\.0310 \| 0\.0450 \| -0\.0140 \|/);
    assert.match(markdown, /\| eval rows \| 1000 \| 1000 \| \|/);
  });

  void it('flags slices where the candidate is more than 0.02 AUC worse', () => {
    const markdown = approvalDetailsMarkdown(input());
    assert.match(markdown, /\| slice \| rows \| candidate AUC \| production AUC \| Δ \|/);
    assert.match(markdown, /\| ⚠ placement=sidebar \| 300 \| 0\.6000 \| 0\.6500 \| -0\.0500 \|/);
    // 0.01 worse is within tolerance.
    assert.match(markdown, /\| device=desktop \| 396 \| 0\.7000 \| 0\.7100 \| -0\.0100 \|/);
    assert.match(
      markdown,
      /⚠ 1 slice where the candidate's AUC is more than 0\.02 below production:\*\* placement=sidebar/,
    );
  });

  void it('shows a dash for slices whose AUC is undefined, and never flags them', () => {
    const markdown = approvalDetailsMarkdown(
      input({ evaluation: evaluation({ slices: [slice('device', 'tv', 4, null, 0.9)] }) }),
    );
    assert.match(markdown, /\| device=tv \| 4 \| — \| 0\.9000 \| — \|/);
    assert.doesNotMatch(markdown, /⚠/);
  });

  void it('without production shows the candidate alone', () => {
    const { production: _, ...rest } = evaluation();
    const markdown = approvalDetailsMarkdown(
      input({
        evaluation: {
          ...rest,
          slices: [slice('device', 'mobile', 600, 0.74), slice('device', 'tv', 4, null)],
        },
      }),
    );
    assert.match(markdown, /\| metric \| candidate v7 \|\n\|---\|---:\|\n\| AUC \| 0\.7312 \|/);
    assert.match(markdown, /No production model to compare against\./);
    assert.match(markdown, /\| slice \| rows \| candidate AUC \|\n/);
    assert.match(markdown, /\| device=tv \| 4 \| — \|/);
    assert.doesNotMatch(markdown, /production AUC|⚠/);
  });

  void it('lists data warnings, or says there are none', () => {
    assert.match(approvalDetailsMarkdown(input()), /\nNo data warnings\.\n/);
    const markdown = approvalDetailsMarkdown(
      input({ warnings: ['click rate 0.9 is unusually high', 'hour has <b>12</b> distinct values'] }),
    );
    assert.match(
      markdown,
      /\*\*Data warnings:\*\*\n- click rate 0\.9 is unusually high\n- hour has \\<b\\>12\\<\/b\\> distinct values/,
    );
  });

  void it('says how long is left and what happens then', () => {
    assert.match(
      approvalDetailsMarkdown(input()),
      /\*\*Time left: 71h 59m\*\* \(until 2025-03-04T11:59:30\.000Z\); then it is rejected automatically\./,
    );
    assert.match(
      approvalDetailsMarkdown(
        input({ deadline: new Date(NOW.getTime() + 12 * 60_000), timeoutOutcome: 'approve' }),
      ),
      /\*\*Time left: 12m\*\* \(until 2025-03-01T12:12:00\.000Z\); then it is approved automatically\./,
    );
    assert.match(
      approvalDetailsMarkdown(input({ deadline: new Date(NOW.getTime() - 1) })),
      /The deadline \(2025-03-01T11:59:59\.999Z\) has passed\*\*; it is being rejected automatically/,
    );
  });

  void it('links the report when its URL is known, else shows its store URI', () => {
    const url = 'http://127.0.0.1:8080/v1/models/ctr/versions/7/report';
    assert.match(
      approvalDetailsMarkdown(input({ reportUrl: url })),
      new RegExp(`Evaluation report: \\[${url}\\]\\(${url}\\)`),
    );
    assert.match(
      approvalDetailsMarkdown(input()),
      /Evaluation report: `\/store\/runs\/w\/r\/evaluate\/report\.md`/,
    );
  });

  void it('links the HTML report, and its Markdown, when evaluation wrote one', () => {
    const url = 'http://127.0.0.1:8080/v1/models/ctr/versions/7/report';
    const withHtml = evaluation({ reportHtmlUri: '/store/runs/w/r/evaluate/report.html' });
    assert.ok(
      approvalDetailsMarkdown(input({ evaluation: withHtml, reportUrl: url })).includes(
        `Evaluation report (HTML): [${url}](${url}) · [Markdown](${url}?format=md)`,
      ),
    );
    assert.match(
      approvalDetailsMarkdown(input({ evaluation: withHtml })),
      /Evaluation report \(HTML\): `\/store\/runs\/w\/r\/evaluate\/report\.html`/,
    );
  });

  void it('shows the best possible AUC beside the candidate when the data has ground truth', () => {
    const markdown = approvalDetailsMarkdown(
      input({ evaluation: evaluation({ bestPossible: { auc: 0.7812, logLoss: 0.4102, count: 1000 } }) }),
    );
    assert.match(
      markdown,
      /\nBest possible AUC on these 1000 rows \(the true click probabilities\): 0\.7812, log loss 0\.4102; the candidate's AUC 0\.7312 is 0\.0500 below it, 82% of the way from a coin flip\.\n/,
    );
    assert.doesNotMatch(approvalDetailsMarkdown(input()), /Best possible/);
  });

  void it('explains how to decide from the Web UI and the CLI', () => {
    const markdown = approvalDetailsMarkdown(input({ workflowId: 'pipeline-ctr-1' }));
    assert.match(markdown, /\*\*Send a Signal\*\* → `approve` with `\{"by": "your name", "comment": "…"\}`/);
    assert.match(markdown, /`reject` with `\{"by": "your name", "reason": "…"\}`/);
    assert.match(markdown, /`mlops pipeline approve pipeline-ctr-1 --by <name>`/);
    assert.match(approvalDetailsMarkdown(input()), /`mlops pipeline approve <workflow-id> --by <name>`/);
  });

  void it('lists failed thresholds when the candidate was not blessed', () => {
    const markdown = approvalDetailsMarkdown(
      input({ evaluation: evaluation({ blessed: false, failures: ['AUC 0.5 is below the minimum 0.6'] }) }),
    );
    assert.match(markdown, /\*\*Failed thresholds:\*\*\n- AUC 0\.5 is below the minimum 0\.6/);
  });

  void it('stays under 4 KB with 40 slices and many warnings, keeping every flagged slice', () => {
    const slices = [
      ...Array.from({ length: 20 }, (_, i) => slice('device', `device-${i}`, 1000 - i, 0.7, 0.7)),
      ...Array.from({ length: 20 }, (_, i) => slice('placement', `placement-${i}`, 500 - i, 0.7, 0.7)),
    ];
    slices[39] = slice('placement', 'tiny-but-worse', 3, 0.5, 0.9);
    const markdown = approvalDetailsMarkdown(
      input({
        evaluation: evaluation({
          slices,
          bestPossible: { auc: 0.7812, logLoss: 0.4102, count: 1000 },
          reportHtmlUri: '/store/runs/w/r/evaluate/report.html',
        }),
        warnings: Array.from({ length: 30 }, (_, i) => `warning number ${i} about the data`),
        reportUrl: 'http://127.0.0.1:8080/v1/models/ctr/versions/7/report',
      }),
    );
    assert.ok(Buffer.byteLength(markdown) < 4096, `${Buffer.byteLength(markdown)} bytes`);
    assert.equal((markdown.match(/^\| (⚠ )?(device|placement)=/gm) ?? []).length, MAX_SLICE_ROWS);
    assert.match(markdown, /\| ⚠ placement=tiny-but-worse \| 3 \|/);
    assert.match(markdown, /28 smaller slices are in the full report\./);
    assert.match(markdown, /- … and 20 more/);
  });

  void it('escapes values from the data so they cannot break the tables', () => {
    const markdown = approvalDetailsMarkdown(
      input({
        evaluation: evaluation({ slices: [slice('placement', 'a|b [x](http://evil)', 10, 0.7, 0.7)] }),
      }),
    );
    assert.match(markdown, /\| placement=a\\\|b \\\[x\\\]\(http:\/\/evil\) \| 10 \|/);
  });
});
