import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * The project's JSON Schemas (schemas/*.schema.json, 2020-12), compiled once per test process with ajv and
 * ajv-formats. Tests use them to check every event the service publishes and every control event body.
 */
/** The project's schemas/ folder, found upwards (this file also runs compiled, from dist/bench/tests/helpers). */
function schemasDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'schemas', 'contact-event.schema.json'))) return path.join(dir, 'schemas');
    if (path.dirname(dir) === dir) throw new Error(`no schemas/contact-event.schema.json above ${__dirname}`);
  }
}
const SCHEMAS = schemasDir();
export const CONTACT_EVENT_SCHEMA = path.join(SCHEMAS, 'contact-event.schema.json');
export const CONTROL_EVENT_SCHEMA = path.join(SCHEMAS, 'control-event.schema.json');

/** Control-event routing key → its body schema in control-event.schema.json. */
export const CONTROL_EVENT_DEFS: Record<string, string> = {
  'entrance.closed': 'entranceClosed',
  'entrance.opened': 'entranceOpened',
  'contact.ended': 'contactEnded',
  'contact.rejected': 'contactRejected',
  'server.started': 'serverStarted',
};

let compiled: { ajv: Ajv2020; contactEvent: ValidateFunction } | undefined;

function schemas(): { ajv: Ajv2020; contactEvent: ValidateFunction } {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
    addFormats(ajv);
    ajv.addSchema(JSON.parse(readFileSync(CONTACT_EVENT_SCHEMA, 'utf8')), 'contact-event');
    ajv.addSchema(JSON.parse(readFileSync(CONTROL_EVENT_SCHEMA, 'utf8')), 'control-event');
    const contactEvent = ajv.getSchema('contact-event');
    if (!contactEvent) throw new Error('contact-event schema did not compile');
    compiled = { ajv, contactEvent };
  }
  return compiled;
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if') // "must match then schema" repeats what the inner errors say
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''}`,
    )
    .join('; ');
}

/** null when `event` (a parsed contact event) is valid against contact-event.schema.json, else what is wrong. */
export function contactEventProblems(event: unknown): string | null {
  const validate = schemas().contactEvent;
  return validate(event) ? null : describeErrors(validate.errors);
}

/** null when `body` is a valid control-event body for `routingKey`, else what is wrong. */
export function controlEventProblems(routingKey: string, body: unknown): string | null {
  const def = CONTROL_EVENT_DEFS[routingKey];
  if (!def) return `no schema for routing key ${routingKey}`;
  const { ajv } = schemas();
  const validate = ajv.getSchema(`control-event#/$defs/${def}`);
  if (!validate) throw new Error(`control-event schema has no $defs/${def}`);
  return validate(body) ? null : describeErrors(validate.errors);
}
