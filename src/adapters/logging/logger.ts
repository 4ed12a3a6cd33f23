import winston from 'winston';

/** JSON lines on stdout; errors carry their stack. One child logger per message adds its identifiers. */
export function createLogger(level: string, service = 'workitem-server'): winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}
