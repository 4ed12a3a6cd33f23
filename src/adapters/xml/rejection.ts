import { ErrorCode, WorkItemError, workItemError } from '../../domain/error-codes';

/**
 * externalId/source read from a message that is rejected, so the receipt can echo them; entrance and task type
 * when readable, so the rejection is counted where it belongs (metrics, report).
 */
export interface Echo {
  externalId?: string;
  source?: string;
  entrance?: string;
  taskType?: string;
}

/**
 * Thrown inside the XML adapter to stop at the first problem found; caught at the boundary
 * of `parseMessage` and turned into an `invalid` result. Never escapes the adapter.
 */
export class Rejection extends Error {
  constructor(
    readonly problem: WorkItemError,
    readonly echo: Echo = {},
  ) {
    super(problem.message);
    this.name = 'Rejection';
  }
}

export function reject(code: ErrorCode, message: string, path = '/'): never {
  throw new Rejection(workItemError(code, message, path));
}

/**
 * A sender's value inside an error message: quoted, control characters escaped, and cut short,
 * because messages travel in receipts and AMQP headers, which must stay small.
 */
export function quote(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
