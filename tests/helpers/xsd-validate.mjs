// Validates XML documents against an XSD with libxml2 (the libxml2-wasm package: no network, no native build).
// libxml2-wasm is an ES module with top-level await, which Jest's CommonJS runtime cannot load, so the tests run
// this script as a child process (tests/helpers/xsd-validator.ts):
//   stdin:  {"schema": "<path of the .xsd>", "docs": [{"name": "...", "base64": "..."}]}
//   stdout: [{"name", "wellFormed", "valid", "root", "errors": [...]}] in the same order.
// Documents are parsed from their bytes (so the declared encoding counts) with XML_PARSE_NONET and without entity
// substitution; whatever libxml2 cannot parse is reported as not well-formed.
import { readFileSync } from 'node:fs';
import { ParseOption, XmlDocument, XsdValidator } from 'libxml2-wasm';

const MAX_ERRORS = 3;

function messages(err) {
  const details = Array.isArray(err?.details) ? err.details.map((d) => String(d.message).trim()) : [];
  return (details.length ? details : [String(err?.message ?? err).trim()]).slice(0, MAX_ERRORS);
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const schemaDoc = XmlDocument.fromBuffer(readFileSync(input.schema), { url: input.schema, option: ParseOption.XML_PARSE_NONET });
const validator = XsdValidator.fromDoc(schemaDoc);
const results = [];
for (const { name, base64 } of input.docs) {
  let doc;
  try {
    doc = XmlDocument.fromBuffer(Buffer.from(base64, 'base64'), { option: ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_HUGE });
  } catch (err) {
    results.push({ name, wellFormed: false, valid: false, root: null, errors: messages(err) });
    continue;
  }
  try {
    const root = doc.root;
    const rootName = root.namespaceUri ? `{${root.namespaceUri}}${root.name}` : root.name;
    try {
      validator.validate(doc);
      results.push({ name, wellFormed: true, valid: true, root: rootName, errors: [] });
    } catch (err) {
      results.push({ name, wellFormed: true, valid: false, root: rootName, errors: messages(err) });
    }
  } finally {
    doc.dispose();
  }
}
validator.dispose();
schemaDoc.dispose();
process.stdout.write(JSON.stringify(results));
