import { AppConfig } from '../../config/config';
import { ErrorCode, workItemError } from '../../domain/error-codes';
import { Echo, Rejection } from './rejection';
import { ILLEGAL_XML_CHAR, describeCodePoint, isReservedName } from './xml-chars';
import { attributePath, childPath } from './xml-path';

/** The parts of the `sax` parser (created by xml2js as `saxParser`) that the guard hooks. */
export interface SaxTag {
  name: string;
  attributes: Record<string, string>;
}

export interface SaxParser {
  ENTITIES: Record<string, string>;
  onopentagstart?: (tag: SaxTag) => void;
  onattribute?: (attribute: { name: string; value: string }) => void;
  onopentag?: (tag: SaxTag) => void;
  onclosetag?: (name: string) => void;
  ontext?: (text: string) => void;
  oncdata?: (text: string) => void;
  ondoctype?: (doctype: string) => void;
  onprocessinginstruction?: (pi: { name: string; body: string }) => void;
  onsgmldeclaration?: (declaration: string) => void;
  onerror?: (error: Error) => void;
}

export interface GuardLimits {
  limits: AppConfig['limits'];
  attachments: AppConfig['attachments'];
}

interface OpenElement {
  path: string;
  textChars: number;
  attributes: number;
  childCounts: Map<string, number>;
  /** Set for /<root>/externalId and /<root>/source, whose text is kept for receipts. */
  echoField?: keyof Echo;
  echoText: string;
}

/** XML defines only these five entities; sax would otherwise expand HTML ones like &nbsp;. */
const XML_ENTITIES: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
});

const MAX_NAME_CHARS = 100;

/** Base64 may be wrapped and indented; allow that much whitespace on top of the encoded size. */
function attachmentTextLimit(maxBytes: number): number {
  const encoded = Math.ceil(maxBytes / 3) * 4;
  return encoded + Math.ceil(encoded / 8) + 4096;
}

/**
 * Enforces the document limits while sax streams through the text, so a hostile message is
 * stopped at its first violation instead of being materialised by xml2js first. Every hook runs
 * its checks and then the handler xml2js installed. A violation is recorded and thrown; the
 * throw unwinds out of `sax.write`, and the caller reads `violation` (xml2js may swallow it).
 */
export class SaxGuard {
  violation?: Rejection;
  readonly echo: Echo = {};
  private readonly open: OpenElement[] = [];
  private elements = 0;
  private rootClosed = false;
  private declarationSeen = false;
  private readonly attachmentLimit: number;

  constructor(private readonly cfg: GuardLimits) {
    this.attachmentLimit = attachmentTextLimit(cfg.attachments.maxBytes);
  }

  get completed(): boolean {
    return this.rootClosed;
  }

  install(sax: SaxParser): void {
    sax.ENTITIES = Object.create(XML_ENTITIES) as Record<string, string>;
    // xml2js builds its result in these; ours run first and may stop the parse.
    const original = { onclosetag: sax.onclosetag, ontext: sax.ontext, oncdata: sax.oncdata };
    const attributesProto = this.duplicateAttributeDetector();
    sax.onopentagstart = (tag) => {
      this.openElement(tag.name);
      // sax silently keeps the first of two equal attributes; XML forbids them, so catch it.
      tag.attributes = Object.create(attributesProto) as Record<string, string>;
    };
    sax.onattribute = (attribute) => {
      this.checkAttribute(attribute.name, attribute.value);
    };
    sax.onclosetag = (name) => {
      this.closeElement();
      original.onclosetag?.call(sax, name);
    };
    sax.ontext = (text) => {
      this.addText(text);
      original.ontext?.call(sax, text);
    };
    sax.oncdata = (text) => {
      this.addText(text);
      original.oncdata?.call(sax, text);
    };
    sax.ondoctype = () => this.fail('FORBIDDEN_XML', 'DOCTYPE declarations are not accepted');
    sax.onsgmldeclaration = () => this.fail('FORBIDDEN_XML', 'markup declarations are not accepted');
    sax.onprocessinginstruction = (pi) => this.checkProcessingInstruction(pi.name);
    sax.onerror = (error) => this.failOnSaxError(error);
  }

  private fail(code: ErrorCode, message: string, path = '/'): never {
    this.violation ??= new Rejection(workItemError(code, message, path), { ...this.echo });
    throw this.violation;
  }

  private openElement(name: string): void {
    if (this.rootClosed) this.fail('MALFORMED_XML', 'only one root element is allowed');
    const parent = this.open[this.open.length - 1];
    this.checkNameLength(name, parent?.path ?? '/', 'element');
    const position = parent ? bump(parent.childCounts, name) : 1;
    const path = parent ? childPath(parent.path, name, position) : `/${name}`;
    this.checkName(name, path, 'element');
    if (this.open.length + 1 > this.cfg.limits.maxDepth) {
      this.fail('TOO_DEEP', `elements are nested deeper than ${this.cfg.limits.maxDepth} levels`, path);
    }
    if (++this.elements > this.cfg.limits.maxElements) {
      this.fail('TOO_LARGE', `the message has more than ${this.cfg.limits.maxElements} elements`, path);
    }
    const echoField = this.open.length === 1 && position === 1 ? echoFieldOf(name) : undefined;
    this.open.push({ path, textChars: 0, attributes: 0, childCounts: new Map(), echoField, echoText: '' });
  }

  /** Names end up in error paths, receipts and AMQP headers; the contract's are all short. */
  private checkNameLength(name: string, parentPath: string, kind: 'element' | 'attribute'): void {
    if (name.length > MAX_NAME_CHARS) {
      this.fail('TOO_LARGE', `${kind} name is longer than ${MAX_NAME_CHARS} characters`, parentPath);
    }
  }

  private checkName(name: string, path: string, kind: 'element' | 'attribute'): void {
    if (isReservedName(name)) this.fail('INVALID_FIELD', `${kind} name "${name}" is a reserved name`, path);
    if (name.includes(':') || name === 'xmlns') {
      this.fail('INVALID_FIELD', `namespaces are not supported (${kind} "${name}")`, path);
    }
  }

  private checkAttribute(name: string, value: string): void {
    const element = this.current();
    const { maxAttributesPerElement, maxAttributeChars } = this.cfg.limits;
    if (++element.attributes > maxAttributesPerElement) {
      this.fail('TOO_LARGE', `an element has more than ${maxAttributesPerElement} attributes`, element.path);
    }
    this.checkNameLength(name, element.path, 'attribute');
    const path = attributePath(element.path, name);
    this.checkName(name, path, 'attribute');
    if (value.length > maxAttributeChars) {
      this.fail('TOO_LARGE', `attribute value is longer than ${maxAttributeChars} characters`, path);
    }
    this.rejectReferencedIllegalChars(value, path);
  }

  /**
   * Prototype for `tag.attributes`: sax asks `attributes.hasOwnProperty(name)` before storing
   * each attribute and silently drops a repeated one, which XML forbids. Answering that question
   * ourselves turns the repeat into an error. Null-prototype otherwise, so an attribute named
   * `__proto__` can only ever become plain data.
   */
  private duplicateAttributeDetector(): object {
    const onDuplicate = (name: string): never =>
      this.fail('MALFORMED_XML', `duplicate attribute "${name}"`, attributePath(this.current().path, name));
    const proto = Object.create(null) as object;
    Object.defineProperty(proto, 'hasOwnProperty', {
      enumerable: false,
      value(this: object, name: string): boolean {
        if (Object.prototype.hasOwnProperty.call(this, name)) onDuplicate(name);
        return false;
      },
    });
    return proto;
  }

  private closeElement(): void {
    const element = this.open.pop();
    if (element?.echoField) this.echo[element.echoField] = element.echoText.trim();
    if (this.open.length === 0) this.rootClosed = true;
  }

  private addText(text: string): void {
    const element = this.open[this.open.length - 1];
    if (!element) {
      if (text.trim() !== '') this.fail('MALFORMED_XML', 'text outside the root element');
      return;
    }
    element.textChars += text.length;
    if (element.path === '/workItem/attachment') {
      if (element.textChars > this.attachmentLimit) {
        this.fail('ATTACHMENT_REJECTED', `attachment is too large (limit ${this.cfg.attachments.maxBytes} bytes)`, element.path);
      }
    } else if (element.textChars > this.cfg.limits.maxTextChars) {
      this.fail('TOO_LARGE', `text is longer than ${this.cfg.limits.maxTextChars} characters`, element.path);
    }
    this.rejectReferencedIllegalChars(text, element.path);
    if (element.echoField) element.echoText += text;
  }

  /** The raw text was checked before parsing; this catches character references like `&#1;`. */
  private rejectReferencedIllegalChars(text: string, path: string): void {
    const match = ILLEGAL_XML_CHAR.exec(text);
    if (match) this.fail('MALFORMED_XML', `character ${describeCodePoint(match[0])} is not allowed in XML`, path);
  }

  private checkProcessingInstruction(name: string): void {
    const isDeclaration = name === 'xml' && !this.declarationSeen && this.elements === 0;
    if (!isDeclaration) this.fail('FORBIDDEN_XML', 'processing instructions are not accepted');
    this.declarationSeen = true;
  }

  private failOnSaxError(error: Error): never {
    const detail = describeSaxError(error.message);
    if (detail.startsWith('Max buffer length exceeded')) {
      this.fail('TOO_LARGE', `a name, comment or attribute value is too long (${detail})`);
    }
    return this.fail('MALFORMED_XML', `not well-formed XML: ${detail}`);
  }

  private current(): OpenElement {
    const element = this.open[this.open.length - 1];
    if (!element) throw new Error('attribute outside an element');
    return element;
  }
}

function bump(counts: Map<string, number>, name: string): number {
  const next = (counts.get(name) ?? 0) + 1;
  counts.set(name, next);
  return next;
}

function echoFieldOf(name: string): keyof Echo | undefined {
  return name === 'externalId' || name === 'source' ? name : undefined;
}

/** sax appends `\nLine: n\nColumn: n\nChar: c` with a 0-based line; senders count from 1. */
function describeSaxError(message: string): string {
  const [first, ...rest] = message.split('\n');
  const field = (name: string): string | undefined => rest.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
  const line = Number(field('Line'));
  const column = Number(field('Column'));
  if (!Number.isInteger(line) || !Number.isInteger(column)) return first.trim();
  return `${first.trim()} (line ${line + 1}, column ${column})`;
}
