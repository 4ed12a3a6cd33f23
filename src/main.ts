import { ConfigError, loadConfig } from './config/config';
import {
  EXIT_CONFIG,
  EXIT_PERMANENT,
  EXIT_SHUTDOWN_DEADLINE,
  PermanentConnectError,
  PermanentStartError,
  StartConfigError,
} from './adapters/connect-errors';
import { createLogger, routeConsoleToLogger } from './adapters/logging/logger';
import { WorkItemService } from './service';

/** At shutdown, spans still buffered get this long to be exported (inside the grace period's 5 s margin). */
const TRACING_FLUSH_MS = 3000;
/**
 * SIGTERM/SIGINT end the process within SHUTDOWN_TIMEOUT_MS + this, whatever the dependencies do: the drain takes at
 * most SHUTDOWN_TIMEOUT_MS and closing at most SHUTDOWN_CLOSE_MS (2 s); should anything still hang, a hard deadline
 * logs one line and exits with EXIT_SHUTDOWN_DEADLINE (4). Unsettled messages are then redelivered by the broker.
 */
const SHUTDOWN_MARGIN_MS = 3000;

/** Wiring only: config, logger, tracing, service, signals. */
async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      // One JSON line like every other start-up error (LOG_LEVEL may be the bad setting: written at error level).
      createLogger('error').error(`cannot start: ${err.message}`, { code: err.setting, exitCode: EXIT_CONFIG });
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
  const log = createLogger(cfg.logLevel);
  // Client libraries' own console warnings (ioredis: "[WARN] Redis server does not require a password…") become
  // JSON lines of this logger too.
  routeConsoleToLogger(log);
  // Loaded only when asked for: with OTEL_TRACES_EXPORTER=none (the default) no OpenTelemetry code is even required.
  const tracing = cfg.tracing.exporter === 'otlp' ? (await import('./adapters/tracing/sdk')).startTracing(cfg.tracing, log) : null;
  const messageTracing = tracing ? new (await import('./adapters/rabbitmq/otel-message-tracing')).OtelTracing(tracing.tracer) : undefined;
  const service = new WorkItemService(cfg, log, messageTracing);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('signal received', { signal });
    const deadlineMs = cfg.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS;
    const deadlineAt = Date.now() + deadlineMs;
    setTimeout(() => {
      log.error('shutdown did not finish in time; exiting (unsettled messages are redelivered by the broker)', {
        deadlineMs,
        exitCode: EXIT_SHUTDOWN_DEADLINE,
      });
      process.exit(EXIT_SHUTDOWN_DEADLINE);
    }, deadlineMs).unref();
    service
      .stop()
      .then(() => tracing?.shutdown(Math.max(0, Math.min(TRACING_FLUSH_MS, deadlineAt - Date.now() - 250))))
      .then(() => process.exit(0))
      .catch((err) => {
        log.error('shutdown failed', { error: (err as Error).message, stack: (err as Error).stack });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: String(err), stack: (err as Error)?.stack }));
  try {
    await service.start();
  } catch (err) {
    // A signal came first: the shutdown handler ends the process (exit 0); a wait it cut short is no failure.
    if (stopping) return;
    if (err instanceof StartConfigError) {
      // The deployment's setting (HTTP_PORT in use or not permitted, HTTP_HOST not here): one line, exit 2.
      stopping = true;
      log.error(`cannot start: ${err.message}`, { code: err.setting, exitCode: EXIT_CONFIG });
      await service.stop({ quiet: true }).catch(() => undefined);
      process.exit(EXIT_CONFIG);
    }
    if (err instanceof PermanentConnectError || err instanceof PermanentStartError) {
      // One line, no stack: a setting to fix (wrong login, vhost, Redis db, certificate, attachment directory or
      // bucket), not a bug. Retrying cannot help.
      stopping = true;
      const code = err instanceof PermanentConnectError ? err.failure.code : err.setting;
      log.error(`cannot start: ${err.message}`, { code, exitCode: EXIT_PERMANENT });
      await service.stop({ quiet: true }).catch(() => undefined);
      process.exit(EXIT_PERMANENT);
    }
    log.error('start failed', { error: (err as Error).message, stack: (err as Error).stack });
    await service.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
