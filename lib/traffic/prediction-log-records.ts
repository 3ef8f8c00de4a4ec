/**
 * The records of the prediction and feedback logs (JSON Lines under `<store>/logs/<model>/`): the
 * prediction server writes them, the production monitor reads them.
 */
import type { FeatureValue } from '../dataset/example';

/** One predicted instance, as logged. */
export interface PredictionLogRecord {
  ts: string;
  prediction_id: string;
  model: string;
  version: string;
  /** Which side of the canary split served it; `shadow` for a copy a shadow version scored, which served no one. */
  role: 'stable' | 'canary' | 'pinned' | 'shadow';
  /** For a shadow record: the prediction id stable answered the same instance with. */
  shadow_of?: string;
  /** The features the model saw by its spec's column names, without image bytes; `image_uri` when the client sent one. */
  features: Record<string, FeatureValue> & { image_uri?: string };
  /** The predicted probability (named by the spec's output in the API; one name here for every model). */
  click_probability: number;
  latency_ms: number;
}

/** One joined feedback item, as logged. */
export interface FeedbackLogRecord {
  ts: string;
  prediction_id: string;
  model: string;
  version: string;
  clicked: 0 | 1;
  click_probability: number;
}

/** The two streams, and their folder names under `<store>/logs/<model>/`. */
export type LogStream = 'predictions' | 'feedback';
