import type { ParsedMessage } from '../domain/work-item';

/** Parses and validates a message body. Never throws for bad input: that is an `invalid` result. */
export interface MessageParser {
  parse(body: Buffer): Promise<ParsedMessage>;
}
