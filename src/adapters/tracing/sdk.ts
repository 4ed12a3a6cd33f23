import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diag, DiagLogLevel, trace, type DiagLogger, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../../ports/logger';
import type { AppConfig } from '../../config/config';

export interface TracingHandle {
  /** The registered provider's tracer; the RabbitMQ adapter's OtelTracing makes messaging spans with it. */
  tracer: Tracer;
  /** Exports what is still buffered, bounded by timeoutMs; spans not sent by then are dropped (logged). */
  shutdown(timeoutMs: number): Promise<void>;
}

const DEFAULT_SERVICE_NAME = 'workitem-server';
/** A collector that is down makes every export fail: one warning a minute is enough. */
const DIAG_WARN_INTERVAL_MS = 60_000;

function serviceVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The SDK's own warnings (a failed export, a bad OTEL_* value) go to our log, rate-limited. */
function diagLogger(log: Logger): DiagLogger {
  let last = 0;
  let suppressed = 0;
  const warn = (message: string, ...args: unknown[]) => {
    const now = Date.now();
    if (now - last < DIAG_WARN_INTERVAL_MS) {
      suppressed++;
      return;
    }
    last = now;
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    log.warn(`opentelemetry: ${message}`, { ...(detail && { detail: detail.slice(0, 500) }), ...(suppressed && { suppressed }) });
    suppressed = 0;
  };
  const ignore = () => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}

/**
 * Starts the OpenTelemetry SDK (only called with OTEL_TRACES_EXPORTER=otlp): OTLP over HTTP, protobuf or JSON
 * (OTEL_EXPORTER_OTLP_PROTOCOL), batched (OTEL_BSP_*), W3C trace context, service name from OTEL_SERVICE_NAME /
 * OTEL_RESOURCE_ATTRIBUTES (default workitem-server). The exporter reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
 * _HEADERS, _TIMEOUT and _COMPRESSION itself; the sampler OTEL_TRACES_SAMPLER[_ARG] (default parent-based always-on).
 */
export function startTracing(cfg: AppConfig['tracing'], log: Logger): TracingHandle {
  diag.setLogger(diagLogger(log), DiagLogLevel.WARN);
  const exporter = cfg.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
  const version = serviceVersion();
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME,
        ...(version && { [ATTR_SERVICE_VERSION]: version }),
        'host.name': os.hostname(),
        'process.pid': process.pid,
      }),
    )
    // OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME over it.
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const endpoint = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? cfg.endpoint ?? 'http://localhost:4318';
  log.info('tracing on', {
    exporter: 'otlp',
    protocol: cfg.protocol,
    endpoint: describeEndpoint(endpoint),
    service: resource.attributes[ATTR_SERVICE_NAME],
  });
  return {
    tracer: trace.getTracer('workitem-server', version),
    async shutdown(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const done = await Promise.race([
        provider.shutdown().then(
          () => 'done' as const,
          () => 'failed' as const,
        ),
        timedOut,
      ]);
      clearTimeout(timer);
      if (done !== 'done') log.warn('tracing: spans still buffered at shutdown were not all exported', { reason: done, timeoutMs });
    },
  };
}

/** Scheme, host and path only: a URL may carry credentials. */
function describeEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparsable)';
  }
}
