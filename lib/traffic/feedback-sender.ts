/**
 * Simulated click feedback: for each prediction served, draw whether the ad was clicked from the
 * synthetic dataset's true click probability and report it after a delay, as a client would.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';

/** Reads `ground_truth.csv` (ad_id, click_probability) of a generated dataset. */
export async function loadGroundTruth(dataDir: string): Promise<Map<string, number>> {
  const rows = parse<{ ad_id: string; click_probability: string }>(
    await fs.readFile(path.join(dataDir, 'ground_truth.csv')),
    {
      columns: true,
    },
  );
  return new Map(rows.map((row) => [row.ad_id, Number(row.click_probability)]));
}

export interface FeedbackSenderOptions {
  baseUrl: string;
  groundTruth: Map<string, number>;
  /** How long after a prediction its click is reported. */
  delayMs?: number;
  random?: () => number;
}

export interface FeedbackSender {
  /** Records a served prediction; its click is drawn and reported later. */
  observe(adId: string, predictionId: string): void;
  /** Sends what is pending and stops; returns how many labels were accepted. */
  stop(): Promise<{ sent: number; accepted: number }>;
}

/**
 * The `accepted` count of a feedback response; 0 for a body that is not the expected JSON.
 * Never throws: flushes are chained, and one rejection would become an unhandled one.
 */
async function acceptedCount(response: Response): Promise<number> {
  try {
    const body = (await response.json()) as { accepted?: unknown } | null;
    return typeof body?.accepted === 'number' ? body.accepted : 0;
  } catch {
    return 0;
  }
}

/** Starts reporting clicks for observed predictions every 250 ms until stopped. */
export function startFeedbackSender(options: FeedbackSenderOptions): FeedbackSender {
  const delayMs = options.delayMs ?? 1_000;
  const random = options.random ?? Math.random;
  const pending: Array<{ due: number; prediction_id: string; clicked: number }> = [];
  let sent = 0;
  let accepted = 0;
  let inFlight: Promise<void> = Promise.resolve();

  const flush = async (all: boolean) => {
    const now = Date.now();
    const firstNotDue = pending.findIndex((item) => item.due > now);
    const ready = pending.splice(0, all || firstNotDue === -1 ? pending.length : firstNotDue);
    if (ready.length === 0) return;
    for (let i = 0; i < ready.length; i += 1000) {
      const batch = ready
        .slice(i, i + 1000)
        .map(({ prediction_id, clicked }) => ({ prediction_id, clicked }));
      const response = await fetch(`${options.baseUrl}/v1/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ feedback: batch }),
      }).catch(() => undefined);
      sent += batch.length;
      if (response?.ok) accepted += await acceptedCount(response);
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(() => flush(false));
  }, 250);

  return {
    observe(adId, predictionId) {
      const probability = options.groundTruth.get(adId);
      if (probability === undefined) return;
      pending.push({
        due: Date.now() + delayMs,
        prediction_id: predictionId,
        clicked: random() < probability ? 1 : 0,
      });
    },
    async stop() {
      clearInterval(timer);
      await inFlight;
      await flush(true);
      return { sent, accepted };
    },
  };
}
