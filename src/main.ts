import { ConfigError, loadConfig } from './config/config';
import { createLogger } from './adapters/logging/logger';
import { WorkItemService } from './service';

/** Wiring only: config, logger, service, signals. */
async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`workitem-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(cfg.logLevel);
  const service = new WorkItemService(cfg, log);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('signal received', { signal });
    service
      .stop()
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
    log.error('start failed', { error: (err as Error).message, stack: (err as Error).stack });
    await service.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
