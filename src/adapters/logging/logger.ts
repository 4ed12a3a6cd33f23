import { format } from 'node:util';
import winston from 'winston';
import type { Logger } from '../../ports/logger';

/** JSON lines on stdout; errors carry their stack. One child logger per message adds its identifiers. */
export function createLogger(level: string, service = 'workitem-server'): winston.Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
  const winstonChild = logger.child.bind(logger);
  // The use cases take a child per message (and per item) but most messages log nothing: build winston's child only
  // when a line is written. Lines are exactly those of winston's child (same merge of the metadata).
  logger.child = ((meta: Record<string, unknown>) => new LazyChildLogger(logger, winstonChild, meta)) as unknown as winston.Logger['child'];
  return logger;
}

/**
 * A child logger (the port's slice of winston's API) that creates winston's child on its first line. A child of it
 * merges the metadata like winston's nested children do: the inner child's fields win, and the line's own win over both.
 */
export class LazyChildLogger implements Logger {
  private real: winston.Logger | undefined;

  constructor(
    private readonly root: winston.Logger,
    private readonly makeChild: (meta: Record<string, unknown>) => winston.Logger,
    private readonly meta: Record<string, unknown>,
  ) {}

  private get logger(): winston.Logger {
    return (this.real ??= this.makeChild(this.meta));
  }

  error(message: string, meta?: Record<string, unknown>): unknown {
    return this.logger.error(message, meta);
  }

  warn(message: string, meta?: Record<string, unknown>): unknown {
    return this.logger.warn(message, meta);
  }

  info(message: string, meta?: Record<string, unknown>): unknown {
    return this.logger.info(message, meta);
  }

  debug(message: string, meta?: Record<string, unknown>): unknown {
    // winston formats a line before its transport drops it: below the level, not even the child is built.
    if (!this.root.isDebugEnabled()) return this.root;
    return this.logger.debug(message, meta);
  }

  child(meta: Record<string, unknown>): Logger {
    return new LazyChildLogger(this.root, this.makeChild, { ...this.meta, ...meta });
  }

  isDebugEnabled(): boolean {
    return this.root.isDebugEnabled();
  }
}

/**
 * Sends what libraries write with console.warn / console.error / console.log / console.info (ioredis has no option to
 * silence its "[WARN] Redis server does not require a password…") through the logger as JSON lines, with
 * `source: "console.<method>"`: the service's output stays one JSON object per line. winston's own Console transport
 * writes to the streams directly, never through these methods.
 */
const NODE_WARNING = /^\(node:\d+\) (\[\w+\] )?\S*Warning: /;

export function routeConsoleToLogger(log: Pick<Logger, 'error' | 'warn' | 'info'>): void {
  const route = (method: 'warn' | 'error' | 'log' | 'info', level: 'error' | 'warn' | 'info') => {
    console[method] = (...args: unknown[]) => {
      const text = format(...args);
      // Node prints process warnings (`(node:<pid>) …Warning: …`, e.g. the AWS SDK's Node-version notice) through
      // console.error: they are warnings, not errors.
      void log[level === 'error' && NODE_WARNING.test(text) ? 'warn' : level](text, { source: `console.${method}` });
    };
  };
  route('error', 'error');
  route('warn', 'warn');
  route('log', 'info');
  route('info', 'info');
}
