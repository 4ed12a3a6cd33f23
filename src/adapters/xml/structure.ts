import { reject } from './rejection';
import { attributePath, childPath } from './xml-path';
import { XmlNode } from './xml-node';

/** What an element may contain. Anything else is an INVALID_FIELD: nothing is silently ignored. */
export interface ElementSpec {
  readonly attributes?: readonly string[];
  /** Child elements by name; `repeatable` ones may occur more than once. */
  readonly children?: Readonly<Record<string, ChildSpec>>;
  /** Whether the element holds text (leaf); containers may only hold whitespace between children. */
  readonly text: boolean;
}

export interface ChildSpec {
  readonly spec: ElementSpec;
  readonly repeatable?: boolean;
}

const TEXT: ElementSpec = { text: true };
const single = (spec: ElementSpec): ChildSpec => ({ spec });
const CUSTOMER: ElementSpec = { text: false, children: { name: single(TEXT), email: single(TEXT), phone: single(TEXT) } };
const CONTACT_DATA: ElementSpec = {
  text: false,
  children: { item: { spec: { attributes: ['key'], text: true }, repeatable: true } },
};

export const WORK_ITEM_SPEC: ElementSpec = {
  attributes: ['version', 'restart'],
  text: false,
  children: {
    externalId: single(TEXT),
    source: single(TEXT),
    entrance: single(TEXT),
    priority: single(TEXT),
    subject: single(TEXT),
    body: single(TEXT),
    dueAt: single(TEXT),
    expiresAt: single(TEXT),
    activateAt: single(TEXT),
    customer: single(CUSTOMER),
    contactData: single(CONTACT_DATA),
    attachment: single({ attributes: ['fileName', 'contentType', 'encoding'], text: true }),
    social: single({ attributes: ['platform', 'pageId', 'postId', 'author'], text: false }),
  },
};

export const CANCEL_SPEC: ElementSpec = {
  attributes: ['version'],
  text: false,
  children: { externalId: single(TEXT), source: single(TEXT) },
};

/** Status query: the item's identity only, like a cancel. */
export const GET_SPEC: ElementSpec = CANCEL_SPEC;

/** Contract 1.2: the identity, an optional time to resume by itself and an optional reason. */
export const HOLD_SPEC: ElementSpec = {
  attributes: ['version'],
  text: false,
  children: { externalId: single(TEXT), source: single(TEXT), until: single(TEXT), reason: single(TEXT) },
};

/** Contract 1.2: the identity only, like a cancel. */
export const RESUME_SPEC: ElementSpec = CANCEL_SPEC;

/** Contract 1.1. entrance, attachment, social and activateAt are refused before this check, with a reason. */
export const UPDATE_SPEC: ElementSpec = {
  attributes: ['version', 'revision'],
  text: false,
  children: {
    externalId: single(TEXT),
    source: single(TEXT),
    priority: single(TEXT),
    subject: single(TEXT),
    body: single(TEXT),
    dueAt: single(TEXT),
    expiresAt: single(TEXT),
    customer: single(CUSTOMER),
    contactData: single(CONTACT_DATA),
  },
};

/**
 * Checks the shape of `node` against `spec`, depth first in document order: unknown attributes,
 * text where only elements belong (mixed content), unknown and repeated child elements.
 */
export function checkStructure(node: XmlNode, spec: ElementSpec, path: string): void {
  checkNode(node, spec, { parent: undefined, path, name: '', position: 0 });
}

/** Where a node is; its path string is only built for an error message. */
interface Location {
  parent: Location | undefined;
  /** Set for the root of the check. */
  path: string | undefined;
  name: string;
  position: number;
}

function pathOf(at: Location): string {
  return at.path ?? childPath(pathOf(at.parent!), at.name, at.position);
}

function checkNode(node: XmlNode, spec: ElementSpec, at: Location): void {
  for (const name of node.attributes.keys()) {
    if (!spec.attributes?.includes(name)) {
      reject('INVALID_FIELD', `attribute "${name}" is not allowed on <${node.name}>`, attributePath(pathOf(at), name));
    }
  }
  if (!spec.text && node.text.trim() !== '') {
    reject('INVALID_FIELD', `text is not allowed directly inside <${node.name}>`, pathOf(at));
  }
  for (const [name, nodes] of node.children) {
    const child = spec.children && Object.hasOwn(spec.children, name) ? spec.children[name] : undefined;
    if (!child) reject('INVALID_FIELD', `element <${name}> is not allowed in <${node.name}>`, childPath(pathOf(at), name, 1));
    if (!child.repeatable && nodes.length > 1) {
      reject('INVALID_FIELD', `element <${name}> may occur only once`, childPath(pathOf(at), name, 2));
    }
    for (let i = 0; i < nodes.length; i++) checkNode(nodes[i], child.spec, { parent: at, path: undefined, name, position: i + 1 });
  }
}
