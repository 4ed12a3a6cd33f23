/**
 * A parsed element copied out of xml2js's output into fresh, prototype-safe containers (Maps),
 * so the mapping code never touches xml2js objects or their keys directly.
 */
export interface XmlNode {
  readonly name: string;
  /** Attributes in document order. */
  readonly attributes: ReadonlyMap<string, string>;
  /** All text directly inside the element (CDATA included), untrimmed. */
  readonly text: string;
  /** Child elements grouped by name, in order of each name's first appearance. */
  readonly children: ReadonlyMap<string, readonly XmlNode[]>;
}

/** xml2js options the conversion below relies on. */
export const ATTRIBUTES_KEY = '$';
export const TEXT_KEY = '#text';

/**
 * Converts one xml2js value (with explicitArray and explicitCharkey). An element without
 * attributes and children comes out of xml2js as a bare string (possibly empty).
 */
export function toXmlNode(name: string, value: unknown): XmlNode {
  const attributes = new Map<string, string>();
  const children = new Map<string, XmlNode[]>();
  if (typeof value === 'string') return { name, attributes, text: value, children };
  let text = '';
  if (isRecord(value)) {
    for (const key of Object.keys(value)) {
      const entry = value[key];
      if (key === ATTRIBUTES_KEY) copyAttributes(entry, attributes);
      else if (key === TEXT_KEY) text = typeof entry === 'string' ? entry : '';
      else
        children.set(
          key,
          asArray(entry).map((child) => toXmlNode(key, child)),
        );
    }
  }
  return { name, attributes, text, children };
}

function copyAttributes(source: unknown, target: Map<string, string>): void {
  if (!isRecord(source)) return;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (typeof value === 'string') target.set(key, value);
  }
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
