/**
 * Where a JSON text goes wrong, as line and column, for the start-up error of a config file. JSON.parse says "at
 * position N" for some errors only ("Unexpected token '}', ... is not valid JSON" has none), so the text is scanned
 * again by this small strict JSON reader (RFC 8259), used only after JSON.parse has failed.
 */

/** Offset of the first character that is not valid JSON (the text's length when it ends too early), or -1 if valid. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (at: number): never => {
    throw new BadJsonAt(at);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string) => {
    for (const c of word) if (text[i++] !== c) fail(i - 1);
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i] >= '0' && text[i] <= '9') i++;
    if (i === start) fail(i);
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail(i);
      const c = text[i];
      if (c === '"') return void i++;
      if (c < ' ') fail(i);
      if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k);
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i] ?? 'x')) i++;
        else fail(i);
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i);
        string();
        ws();
        if (text[i] !== ':') fail(i);
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail(i);
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    fail(i);
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i++; // a byte order mark, as readFileSync leaves it
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (err) {
    if (err instanceof BadJsonAt) return Math.min(err.offset, text.length);
    throw err;
  }
}

class BadJsonAt extends Error {
  constructor(readonly offset: number) {
    super(`invalid JSON at ${offset}`);
  }
}

/** 1-based line and column of an offset (columns count UTF-16 code units, as editors mostly do for ASCII config). */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

/**
 * JSON.parse's error as one short line with the place it names: `line:column` and the reason without the echo of
 * the text (V8 quotes part of it, which may be long) or its position.
 */
export function describeJsonError(text: string, err: Error): { line: number; column: number; reason: string } {
  const found = jsonErrorOffset(text);
  const position = /at position (\d+)/.exec(err.message);
  const offset = found >= 0 ? found : position ? Number(position[1]) : text.length;
  const reason = err.message
    .replace(/^(Unexpected token .*?), .* is not valid JSON$/s, '$1')
    .replace(/\s*\(line \d+ column \d+\)/, '')
    .replace(/\s*(in JSON )?at position \d+/, '');
  return { ...lineColumn(text, offset), reason };
}
