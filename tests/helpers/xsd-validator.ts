import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** What libxml2 said about one document (see xsd-validate.mjs). */
export interface XsdResult {
  name: string;
  wellFormed: boolean;
  valid: boolean;
  /** Root element name, `{uri}name` when namespaced; null when not well-formed. */
  root: string | null;
  errors: string[];
}

const SCRIPT = path.join(__dirname, 'xsd-validate.mjs');

/**
 * Validates every document against the XSD in one child process (libxml2-wasm is ESM-only with top-level await,
 * which Jest's CommonJS runtime cannot import). Bounded: fails after `timeoutMs`.
 */
export function validateWithXsd(schema: string, docs: { name: string; body: Buffer }[], timeoutMs = 120_000): Map<string, XsdResult> {
  const input = JSON.stringify({ schema, docs: docs.map((d) => ({ name: d.name, base64: d.body.toString('base64') })) });
  const out = execFileSync(process.execPath, [SCRIPT], { input, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  const results = JSON.parse(out.toString('utf8')) as XsdResult[];
  if (results.length !== docs.length) throw new Error(`xsd-validate returned ${results.length} results for ${docs.length} documents`);
  return new Map(results.map((r) => [r.name, r]));
}
