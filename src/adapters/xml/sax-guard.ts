import { AppConfig } from '../../config/config';
import { ErrorCode, workItemError } from '../../domain/error-codes';
import { Echo, Rejection } from './rejection';
import { describeCodePoint, firstIllegalXmlChar, isReservedName } from './xml-chars';
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
  parent: OpenElement | undefined;
  name: string;
  /** Among its parent's children of the same name, from 1. */
  position: number;
  /** The element's error path (`/workItem/contactData/item[2]`), built when first needed: most messages need none. */
  path?: string;
  /** `/workItem/attachment`, whose text has the attachment's limit instead of maxTextChars. */
  isAttachment: boolean;
  textChars: number;
  attributes: number;
  /** Children so far by name (for their positions); created with the first child. */
  childCounts: Map<string, number> | undefined;
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

  constructor(
    private readonly cfg: GuardLimits,
    /**
     * The document has no `&#` at all: no character reference can put a character into text or attribute values that
     * the check of the raw text (preflight) has not seen, so the per-text check is skipped.
     */
    private readonly noCharReferences = false,
  ) {
    this.attachmentLimit = attachmentTextLimit(cfg.attachments.maxBytes);
  }

  get completed(): boolean {
    return this.rootClosed;
  }

  install(sax: SaxParser): void {
    sax.ENTITIES = Object.create(XML_ENTITIES) as Record<string, string>;
    // xml2js builds its result in these; ours run first and may stop the parse.
    const original = { onclosetag: sax.onclosetag, ontext: sax.ontext, oncdata: sax.oncdata };
    activate(this);
    sax.onopentagstart = (tag) => {
      this.openElement(tag.name);
      // sax silently keeps the first of two equal attributes; XML forbids them, so catch it.
      tag.attributes = Object.create(DUPLICATE_ATTRIBUTE_DETECTOR) as Record<string, string>;
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
    if (name.length > MAX_NAME_CHARS) this.nameTooLong('element', parent ? pathOf(parent) : '/');
    const position = parent ? bump((parent.childCounts ??= new Map()), name) : 1;
    const isChildOfRoot = this.open.length === 1 && position === 1;
    const element: OpenElement = {
      parent,
      name,
      position,
      isAttachment: isChildOfRoot && name === 'attachment' && parent?.name === 'workItem',
      textChars: 0,
      attributes: 0,
      childCounts: undefined,
      echoField: isChildOfRoot ? echoFieldOf(name) : undefined,
      echoText: '',
    };
    this.checkName(name, element, 'element');
    if (this.open.length + 1 > this.cfg.limits.maxDepth) {
      this.fail('TOO_DEEP', `elements are nested deeper than ${this.cfg.limits.maxDepth} levels`, pathOf(element));
    }
    if (++this.elements > this.cfg.limits.maxElements) {
      this.fail('TOO_LARGE', `the message has more than ${this.cfg.limits.maxElements} elements`, pathOf(element));
    }
    this.open.push(element);
  }

  /** Names end up in error paths, receipts and AMQP headers; the contract's are all short. */
  private nameTooLong(kind: 'element' | 'attribute', parentPath: string): never {
    return this.fail('TOO_LARGE', `${kind} name is longer than ${MAX_NAME_CHARS} characters`, parentPath);
  }

  /** `at`: the element itself, or for an attribute its element (the path then ends in `/@name`). */
  private checkName(name: string, at: OpenElement, kind: 'element' | 'attribute'): void {
    if (isReservedName(name)) this.fail('INVALID_FIELD', `${kind} name "${name}" is a reserved name`, namePath(at, kind, name));
    if (name.includes(':') || name === 'xmlns') {
      this.fail('INVALID_FIELD', `namespaces are not supported (${kind} "${name}")`, namePath(at, kind, name));
    }
  }

  private checkAttribute(name: string, value: string): void {
    const element = this.current();
    const { maxAttributesPerElement, maxAttributeChars } = this.cfg.limits;
    if (++element.attributes > maxAttributesPerElement) {
      this.fail('TOO_LARGE', `an element has more than ${maxAttributesPerElement} attributes`, pathOf(element));
    }
    if (name.length > MAX_NAME_CHARS) this.nameTooLong('attribute', pathOf(element));
    this.checkName(name, element, 'attribute');
    if (value.length > maxAttributeChars) {
      this.fail('TOO_LARGE', `attribute value is longer than ${maxAttributeChars} characters`, attributePath(pathOf(element), name));
    }
    this.rejectReferencedIllegalChars(value, element, name);
  }

  /** A second attribute of the same name on the current element (see DUPLICATE_ATTRIBUTE_DETECTOR). */
  duplicateAttribute(name: string): never {
    return this.fail('MALFORMED_XML', `duplicate attribute "${name}"`, attributePath(pathOf(this.current()), name));
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
    if (element.isAttachment) {
      if (element.textChars > this.attachmentLimit) {
        this.fail('ATTACHMENT_REJECTED', `attachment is too large (limit ${this.cfg.attachments.maxBytes} bytes)`, pathOf(element));
      }
    } else if (element.textChars > this.cfg.limits.maxTextChars) {
      this.fail('TOO_LARGE', `text is longer than ${this.cfg.limits.maxTextChars} characters`, pathOf(element));
    }
    this.rejectReferencedIllegalChars(text, element);
    if (element.echoField) element.echoText += text;
  }

  /** The raw text was checked before parsing; this catches character references like `&#1;`. */
  /** In the text of `element`, or with `attribute` in that attribute's value. */
  private rejectReferencedIllegalChars(text: string, element: OpenElement, attribute?: string): void {
    if (this.noCharReferences) return;
    const match = firstIllegalXmlChar(text);
    if (match) {
      const path = attribute === undefined ? pathOf(element) : attributePath(pathOf(element), attribute);
      this.fail('MALFORMED_XML', `character ${describeCodePoint(match[0])} is not allowed in XML`, path);
    }
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

/**
 * The guard of the document being parsed. Parsing is synchronous, so at most one runs per thread at a time; the
 * prototype below reports a duplicate attribute to it.
 */
let activeGuard: SaxGuard | null = null;

function activate(guard: SaxGuard): void {
  activeGuard = guard;
}

/**
 * Prototype for `tag.attributes`: sax asks `attributes.hasOwnProperty(name)` before storing each attribute and
 * silently drops a repeated one, which XML forbids. Answering that question ourselves turns the repeat into an error.
 * Null-prototype otherwise, so an attribute named `__proto__` can only ever become plain data. One object for all
 * documents (a fresh prototype per document gave every document's attribute objects new hidden classes).
 */
const DUPLICATE_ATTRIBUTE_DETECTOR: object = Object.create(null) as object;
Object.defineProperty(DUPLICATE_ATTRIBUTE_DETECTOR, 'hasOwnProperty', {
  enumerable: false,
  value(this: object, name: string): boolean {
    if (Object.prototype.hasOwnProperty.call(this, name)) {
      if (!activeGuard) throw new Error(`duplicate attribute "${name}"`);
      activeGuard.duplicateAttribute(name);
    }
    return false;
  },
});

/** `/workItem/contactData/item[2]`: the path error messages name; built once per element, and only for an error. */
function pathOf(element: OpenElement): string {
  element.path ??= element.parent ? childPath(pathOf(element.parent), element.name, element.position) : `/${element.name}`;
  return element.path;
}

function namePath(at: OpenElement, kind: 'element' | 'attribute', name: string): string {
  return kind === 'element' ? pathOf(at) : attributePath(pathOf(at), name);
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
