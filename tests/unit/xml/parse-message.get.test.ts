import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { StatusQuery } from '../../../src/domain/work-item';
import { examplesDir, expectInvalid, parse } from './xml-test-helpers';

/** Status query: <getWorkItem> as the XML adapter reads it (whitelisted like <cancelWorkItem>). */

function get(inner: string, rootAttributes = 'version="1"'): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<getWorkItem ${rootAttributes}>\n${inner}\n</getWorkItem>\n`;
}

const IDS = '<externalId> CASE-1 </externalId><source>bank-support</source>';

function expectQuery(xml: string | Buffer): StatusQuery {
  const r = parse(xml);
  if (r.kind !== 'get') throw new Error(`expected a status query, got ${JSON.stringify(r)}`);
  return r.query;
}

describe('parseMessage: <getWorkItem>', () => {
  it('reads externalId and source (trimmed); version is optional, as for a cancel', () => {
    expect(expectQuery(get(IDS))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
    expect(expectQuery(get(IDS, ''))).toEqual({ externalId: 'CASE-1', source: 'bank-support' });
  });

  it('examples/get.xml is a status query', () => {
    const body = readFileSync(path.join(examplesDir(), 'get.xml'));
    expect(expectQuery(body)).toEqual({ externalId: 'CASE-2026-000123', source: 'bank-support' });
  });

  it('refuses anything but externalId and source, with the codes and paths of a cancel', () => {
    expectInvalid(parse(get(`${IDS}<entrance>loans</entrance>`)), 'INVALID_FIELD', '/getWorkItem/entrance');
    expectInvalid(parse(get(IDS, 'version="1" revision="2"')), 'INVALID_FIELD', '/getWorkItem/@revision');
    expectInvalid(parse(get(`${IDS}<source>x</source>`)), 'INVALID_FIELD', '/getWorkItem/source[2]');
    expectInvalid(parse(get(`text${IDS}`)), 'INVALID_FIELD', '/getWorkItem');
    expectInvalid(parse(get(IDS, 'version="2"')), 'UNKNOWN_ROOT', '/getWorkItem/@version');
  });

  it('needs externalId and source, each valid; echoes what is valid in the rejection', () => {
    expectInvalid(parse(get('<source>bank-support</source>')), 'MISSING_FIELD');
    expectInvalid(parse(get('<externalId>CASE-1</externalId>')), 'MISSING_FIELD');
    expectInvalid(parse(get('<externalId>CASE-1</externalId><source>Bad Source!</source>')), 'INVALID_FIELD', '/getWorkItem/source');
    const r = parse(get(`<externalId>${'x'.repeat(129)}</externalId><source>bank-support</source>`));
    expectInvalid(r, 'INVALID_FIELD');
    expect(r).toMatchObject({ kind: 'invalid', source: 'bank-support' });
    expect(r).not.toHaveProperty('externalId');
  });
});
