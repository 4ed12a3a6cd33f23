import http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { waitUntil } from './wait';

/** A span as the receiver got it, from either encoding: ids as lower-case hex ('' when absent). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  /** The resource's service.name. */
  serviceName?: string;
  /** Status code: 0 unset, 1 ok, 2 error. */
  status: number;
  /** Content type of the request that carried it. */
  encoding: 'json' | 'protobuf';
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/**
 * A tiny OTLP/HTTP trace receiver for tests: POST /v1/traces with http/json or http/protobuf (optionally gzip),
 * decoded into ReceivedSpan. Protobuf is walked with a minimal wire-format reader over the fields of
 * opentelemetry/proto/trace/v1 that the tests look at.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly requests: { contentType: string; path: string }[] = [];
  private server: http.Server | null = null;
  port = 0;

  async start(): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = String(req.headers['content-type'] ?? '');
        this.requests.push({ contentType, path: req.url ?? '' });
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        try {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
          if (contentType.startsWith('application/json')) {
            this.spans.push(...fromJson(JSON.parse(body.toString('utf8'))));
            res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          } else {
            this.spans.push(...fromProtobuf(body));
            res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
          }
        } catch (err) {
          res.writeHead(400).end(String(err));
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  span(spanId: string): ReceivedSpan | undefined {
    return this.spans.find((s) => s.spanId === spanId);
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** Polls until a span with each id has arrived; resolves with them in the same order. */
  async waitForSpans(spanIds: string[], timeoutMs = 20_000): Promise<ReceivedSpan[]> {
    await waitUntil(() => spanIds.every((id) => this.span(id)), {
      timeoutMs,
      describe: `spans ${spanIds.filter((id) => !this.span(id)).join(', ')} at the OTLP receiver (${this.spans.length} received)`,
    });
    return spanIds.map((id) => this.span(id) as ReceivedSpan);
  }

  /** Polls until some span matches. */
  async waitForSpan(match: (s: ReceivedSpan) => boolean, what: string, timeoutMs = 20_000): Promise<ReceivedSpan> {
    await waitUntil(() => this.spans.some(match), { timeoutMs, describe: `${what} at the OTLP receiver (${this.spans.length} received)` });
    return this.spans.find(match) as ReceivedSpan;
  }

  /** The spans of one trace as an indented tree (name, kind, id; links after →), for failure messages and notes. */
  formatTrace(traceId: string): string {
    const spans = this.trace(traceId);
    const ids = new Set(spans.map((s) => s.spanId));
    const kinds = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
    const lines: string[] = [];
    const walk = (parent: string, depth: number) => {
      for (const s of spans.filter((x) => x.parentSpanId === parent)) {
        const links = s.links.length ? ` → link ${s.links.map((l) => this.span(l.spanId)?.name ?? l.spanId).join(', ')}` : '';
        lines.push(`${'  '.repeat(depth)}${s.name} [${kinds[s.kind] ?? s.kind}] ${s.spanId}${links}`);
        walk(s.spanId, depth + 1);
      }
    };
    const roots = [...new Set(spans.filter((s) => !ids.has(s.parentSpanId)).map((s) => s.parentSpanId))];
    for (const r of roots) {
      lines.push(r ? `(remote parent ${r})` : '(root)');
      walk(r, 1);
    }
    return lines.join('\n');
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** `traceparent` → its trace id and span id (throws on anything else). */
export function parseTraceparent(value: unknown): { traceId: string; spanId: string; flags: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(
    typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString() : '',
  );
  if (!m) throw new Error(`not a W3C traceparent: ${JSON.stringify(value)}`);
  return { traceId: m[1], spanId: m[2], flags: m[3] };
}

// ---------------------------------------------------------------------------------------------- OTLP/JSON

type Json = Record<string, unknown>;

/** OTLP/JSON ids are hex; some encoders send base64: accept both. */
function jsonId(v: unknown, bytes: number): string {
  if (typeof v !== 'string' || v === '') return '';
  if (v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase();
  return Buffer.from(v, 'base64').toString('hex');
}

function jsonValue(v: Json | undefined): string | number | boolean {
  if (!v) return '';
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  return JSON.stringify(v);
}

function jsonAttributes(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of (list as Json[] | undefined) ?? []) out[String(kv.key)] = jsonValue(kv.value as Json | undefined);
  return out;
}

function fromJson(body: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (body.resourceSpans as Json[] | undefined) ?? []) {
    const serviceName = jsonAttributes((rs.resource as Json | undefined)?.attributes)['service.name'];
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      for (const s of (ss.spans as Json[] | undefined) ?? []) {
        out.push({
          traceId: jsonId(s.traceId, 16),
          spanId: jsonId(s.spanId, 8),
          parentSpanId: jsonId(s.parentSpanId, 8),
          traceState: String(s.traceState ?? ''),
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes: jsonAttributes(s.attributes),
          links: ((s.links as Json[] | undefined) ?? []).map((l) => ({ traceId: jsonId(l.traceId, 16), spanId: jsonId(l.spanId, 8) })),
          serviceName: serviceName === undefined ? undefined : String(serviceName),
          status: Number((s.status as Json | undefined)?.code ?? 0),
          encoding: 'json',
        });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------ OTLP/protobuf

/** Field number → values (varints as bigint, length-delimited as Buffer, fixed as Buffer). */
type Fields = Map<number, (bigint | Buffer)[]>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function decode(buf: Buffer): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: bigint | Buffer;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 1) {
      value = buf.subarray(pos, pos + 8);
      pos += 8;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      value = buf.subarray(p2, p2 + Number(len));
      pos = p2 + Number(len);
    } else if (wire === 5) {
      value = buf.subarray(pos, pos + 4);
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

const bytes = (f: Fields, n: number): Buffer => (f.get(n)?.[0] as Buffer | undefined) ?? Buffer.alloc(0);
const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).map((b) => decode(b as Buffer));
const varint = (f: Fields, n: number): number => Number((f.get(n)?.[0] as bigint | undefined) ?? 0n);

/** common.v1.AnyValue: string 1, bool 2, int 3, double 4. */
function anyValue(v: Fields): string | number | boolean {
  if (v.has(1)) return bytes(v, 1).toString('utf8');
  if (v.has(2)) return varint(v, 2) !== 0;
  if (v.has(3)) return varint(v, 3);
  if (v.has(4)) return bytes(v, 4).readDoubleLE(0);
  return '';
}

/** repeated common.v1.KeyValue (key 1, value 2). */
function pbAttributes(list: Fields[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list) out[bytes(kv, 1).toString('utf8')] = anyValue(messages(kv, 2)[0] ?? new Map());
  return out;
}

/**
 * ExportTraceServiceRequest: resource_spans 1 → ResourceSpans { resource 1 { attributes 1 }, scope_spans 2 → ScopeSpans
 * { spans 2 → Span { trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6, attributes 9, links 13
 * { trace_id 1, span_id 2 }, status 15 { code 3 } } } }.
 */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of messages(decode(body), 1)) {
    const resource = messages(rs, 1)[0];
    const serviceName = resource ? pbAttributes(messages(resource, 1))['service.name'] : undefined;
    for (const ss of messages(rs, 2)) {
      for (const s of messages(ss, 2)) {
        out.push({
          traceId: bytes(s, 1).toString('hex'),
          spanId: bytes(s, 2).toString('hex'),
          parentSpanId: bytes(s, 4).toString('hex'),
          traceState: bytes(s, 3).toString('utf8'),
          name: bytes(s, 5).toString('utf8'),
          kind: varint(s, 6),
          attributes: pbAttributes(messages(s, 9)),
          links: messages(s, 13).map((l) => ({ traceId: bytes(l, 1).toString('hex'), spanId: bytes(l, 2).toString('hex') })),
          serviceName: serviceName === undefined ? undefined : String(serviceName),
          status: messages(s, 15).map((st) => varint(st, 3))[0] ?? 0,
          encoding: 'protobuf',
        });
      }
    }
  }
  return out;
}
