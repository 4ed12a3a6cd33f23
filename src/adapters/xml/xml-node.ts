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
  if (typeof value === 'string') return { name, attributes: NONE, text: value, children: NONE };
  let attributes: ReadonlyMap<string, string> = NONE;
  let children: Map<string, XmlNode[]> | undefined;
  let text = '';
  if (isRecord(value)) {
    for (const key of Object.keys(value)) {
      const entry = value[key];
      if (key === ATTRIBUTES_KEY) attributes = copyAttributes(entry);
      else if (key === TEXT_KEY) text = typeof entry === 'string' ? entry : '';
      else
        (children ??= new Map()).set(
          key,
          asArray(entry).map((child) => toXmlNode(key, child)),
        );
    }
  }
  return { name, attributes, text, children: children ?? NONE };
}

/**
 * The attributes and children of an element that has none (most elements are leaves without attributes): one shared
 * empty map instead of two per element. XmlNode's maps are read-only by type, so nothing adds to it.
 */
const NONE: ReadonlyMap<never, never> = new Map<never, never>();

function copyAttributes(source: unknown): ReadonlyMap<string, string> {
  if (!isRecord(source)) return NONE;
  let target: Map<string, string> | undefined;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (typeof value === 'string') (target ??= new Map()).set(key, value);
  }
  return target ?? NONE;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
