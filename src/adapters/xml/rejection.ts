import { ErrorCode, WorkItemError, workItemError } from '../../domain/error-codes';

/** externalId/source read from a message that is rejected, so the receipt can echo them. */
export interface Echo {
  externalId?: string;
  source?: string;
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
