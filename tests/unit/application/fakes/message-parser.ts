import type { ParsedMessage } from '../../../../src/domain/work-item';
import type { MessageParser } from '../../../../src/ports/message-parser';

/**
 * Hands back parse results the test chose: `body(parsed)` registers one and returns the body that stands for it. The
 * XML adapter is tested on its own; a use case only sees what it returns. A body nobody registered is MALFORMED_XML.
 */
export class FixedParser implements MessageParser {
  private readonly results = new Map<string, ParsedMessage>();

  body(parsed: ParsedMessage): Buffer {
    const body = `<parsed n="${this.results.size + 1}"/>`;
    this.results.set(body, parsed);
    return Buffer.from(body);
  }

  async parse(body: Buffer): Promise<ParsedMessage> {
    return (
      this.results.get(body.toString('utf8')) ?? {
        kind: 'invalid',
        error: { code: 'MALFORMED_XML', message: 'not a registered test body', path: '/' },
      }
    );
  }
}
