/** `POST /v1/feedback`: joins observed clicks to the predictions named by their ids, on any replica. */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context';
import { recordFeedback } from '../metrics';
import type { FeedbackLogRecord } from '../../lib/traffic/prediction-log-records';
import { HttpError } from '../errors';
import {
  feedbackSchema,
  type FeedbackBody,
  type FeedbackItem,
  type FeedbackResponse,
} from './feedback-schema';

/**
 * Registers the feedback route. Each id is verified by its HMAC and age, then counted at most once per
 * replica. Known limitation: replicas share no state, so the same id sent to two replicas is counted by both.
 */
export function registerFeedbackRoute(app: FastifyInstance, context: ServingContext): void {
  app.post<{ Body: FeedbackBody }>(
    '/v1/feedback',
    { schema: feedbackSchema },
    (request): FeedbackResponse => {
      const { feedback } = context;
      const now = Date.now();
      const ts = new Date(now).toISOString();
      const unknown: string[] = [];
      const duplicates: string[] = [];
      const logged: FeedbackLogRecord[] = [];
      // Checked whole before any is counted, so a bad item loses nothing that a retry would double.
      const outcomes = request.body.feedback.map((item, index) => outcomeOf(item, index));
      for (const [index, item] of request.body.feedback.entries()) {
        const outcome = outcomes[index]!;
        const verified = feedback.ids.verify(item.prediction_id, now, feedback.maxAgeMs);
        if (!verified.ok) {
          context.metrics.feedbackRejected.inc({ reason: verified.reason });
          unknown.push(item.prediction_id);
          continue;
        }
        if (!feedback.seen.add(item.prediction_id)) {
          context.metrics.feedbackRejected.inc({ reason: 'duplicate' });
          duplicates.push(item.prediction_id);
          continue;
        }
        const { model, version, probability } = verified.claims;
        recordFeedback(context.metrics, { model, version }, probability, outcome);
        // A label for a request a shadow version also scored (on this process) joins both sides.
        const pair = context.shadow.pairOf(item.prediction_id);
        if (pair) context.shadow.recordFeedback(pair, outcome);
        logged.push({
          ts,
          prediction_id: item.prediction_id,
          model,
          version,
          clicked: outcome,
          click_probability: probability,
        });
      }
      context.logs?.recordFeedback(logged);
      return { accepted: logged.length, unknown, duplicates };
    },
  );
}

function outcomeOf(item: FeedbackItem, index: number): 0 | 1 {
  if ((item.label === undefined) === (item.clicked === undefined)) {
    throw new HttpError(
      400,
      'invalid_request',
      `body.feedback[${index}] needs exactly one of label or clicked (its older name), 0 or 1`,
    );
  }
  return (item.label ?? item.clicked)!;
}
