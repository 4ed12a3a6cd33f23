import type { Logger } from '../../../../src/ports/logger';

export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta: Record<string, unknown>;
}

/** Keeps every line (a child's lines too, with its meta merged in) so a test can look for a warning. */
export class RecordingLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly base: Record<string, unknown> = {},
  ) {}

  private add(level: LogLine['level'], message: string, meta?: Record<string, unknown>): void {
    this.lines.push({ level, message, meta: { ...this.base, ...meta } });
  }

  error(message: string, meta?: Record<string, unknown>) {
    this.add('error', message, meta);
  }
  warn(message: string, meta?: Record<string, unknown>) {
    this.add('warn', message, meta);
  }
  info(message: string, meta?: Record<string, unknown>) {
    this.add('info', message, meta);
  }
  debug(message: string, meta?: Record<string, unknown>) {
    this.add('debug', message, meta);
  }
  child(meta: Record<string, unknown>): Logger {
    return new RecordingLogger(this.lines, { ...this.base, ...meta });
  }
  isDebugEnabled(): boolean {
    return false;
  }

  warnings(): string[] {
    return this.lines.filter((l) => l.level === 'warn').map((l) => l.message);
  }
}
