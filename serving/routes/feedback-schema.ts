/** JSON schema and types of the feedback request; fastify validates every body against it before the handler runs. */

/** Most feedback items one request may carry. */
export const MAX_FEEDBACK_ITEMS = 1000;

/** One observed outcome of a prediction: `label` 1 when the positive class happened, else 0 (`clicked` is its older name). */
export interface FeedbackItem {
  prediction_id: string;
  label?: 0 | 1;
  clicked?: 0 | 1;
}

/** The body of `POST /v1/feedback`. */
export interface FeedbackBody {
  feedback: FeedbackItem[];
}

/** The answer: how many items were counted, and the ids that could not be joined (unknown, forged or expired). */
export interface FeedbackResponse {
  accepted: number;
  unknown: string[];
  /** Ids this replica had already counted; sent again, they are not counted twice. */
  duplicates: string[];
}

/** The route's fastify schema. */
export const feedbackSchema = {
  body: {
    type: 'object',
    required: ['feedback'],
    properties: {
      feedback: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_FEEDBACK_ITEMS,
        items: {
          type: 'object',
          required: ['prediction_id'],
          properties: {
            prediction_id: { type: 'string', minLength: 1, maxLength: 1024 },
            // 0 or 1 only: a boolean or "1" is refused rather than guessed at (ajv does not coerce here).
            label: { type: 'integer', enum: [0, 1] },
            clicked: { type: 'integer', enum: [0, 1] },
          },
        },
      },
    },
  },
} as const;
