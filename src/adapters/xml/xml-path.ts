/**
 * XPath-like locations used in error paths, e.g. `/workItem/contactData/item[2]/@key`.
 * The position is shown for repeated siblings (`subject[2]`) and always for contact-data
 * items, whose position is how a sender finds the offending one.
 */
export function childPath(parentPath: string, name: string, position: number): string {
  const showPosition = position > 1 || name === 'item';
  return `${parentPath}/${name}${showPosition ? `[${position}]` : ''}`;
}

export function attributePath(elementPath: string, name: string): string {
  return `${elementPath}/@${name}`;
}
