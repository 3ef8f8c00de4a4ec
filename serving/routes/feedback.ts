/** `POST /v1/feedback`: joins observed clicks to the predictions named by their ids, on any replica. */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context';
import { recordFeedback } from '../metrics';
import type { FeedbackLogRecord } from '../../lib/traffic/prediction-log-records';
import { feedbackSchema, type FeedbackBody, type FeedbackResponse } from './feedback-schema';

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
      for (const item of request.body.feedback) {
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
        recordFeedback(context.metrics, { model, version }, probability, item.clicked);
        logged.push({
          ts,
          prediction_id: item.prediction_id,
          model,
          version,
          clicked: item.clicked,
          click_probability: probability,
        });
      }
      context.logs?.recordFeedback(logged);
      return { accepted: logged.length, unknown, duplicates };
    },
  );
}
