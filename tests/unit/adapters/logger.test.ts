import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, LazyChildLogger } from '../../../src/adapters/logging/logger';

/** Records the JSON lines the logger writes (timestamps left out), instead of writing them to stdout. */
function capture(logger: winston.Logger): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const line = JSON.parse(l) as Record<string, unknown>;
        delete line.timestamp;
        lines.push(line);
      }
      done();
    },
  });
  logger.clear();
  logger.add(new winston.transports.Stream({ stream }));
  return lines;
}

describe('createLogger: child loggers', () => {
  it('writes the same lines as winston’s own (nested) children: inner fields win, the line’s own win over both', () => {
    const lazyRoot = createLogger('info');
    const lazy = capture(lazyRoot);
    const plainRoot = winston.createLogger({
      level: 'info',
      defaultMeta: { service: 'workitem-server' },
      format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    });
    const plain = capture(plainRoot);
    for (const [root, child] of [
      [lazyRoot, lazyRoot.child({ messageId: 'm-1', a: 'outer' })],
      [plainRoot, plainRoot.child({ messageId: 'm-1', a: 'outer' })],
    ] as const) {
      const inner = child.child({ contactId: 'wi-1', a: 'inner', b: 'inner' });
      inner.info('work item handled', { b: 'line', outcome: 'accepted' });
      inner.warn('second', { n: 2 });
      child.error('outer only');
      inner.debug('not at info level');
      root.info('root line');
    }
    expect(lazy).toEqual(plain);
    expect(lazy[0]).toEqual({
      level: 'info',
      message: 'work item handled',
      service: 'workitem-server',
      messageId: 'm-1',
      contactId: 'wi-1',
      a: 'inner',
      b: 'line',
      outcome: 'accepted',
    });
    expect(lazy).toHaveLength(4);
  });

  it('builds no winston child for a message that logs nothing, and tells whether debug is on', () => {
    const root = createLogger('info');
    const child = root.child({ messageId: 'm-1' }) as unknown as LazyChildLogger;
    expect(child).toBeInstanceOf(LazyChildLogger);
    expect(child.child({ contactId: 'x' }).isDebugEnabled()).toBe(false);
    expect((child as unknown as { real: unknown }).real).toBeUndefined();
    expect(createLogger('debug').child({}).isDebugEnabled()).toBe(true);
  });

  it('writes debug lines of a child when the level is debug', () => {
    const root = createLogger('debug');
    const lines = capture(root);
    root.child({ messageId: 'm-1' }).child({ contactId: 'wi-1' }).debug('detail', { step: 1 });
    expect(lines).toEqual([
      { level: 'debug', message: 'detail', service: 'workitem-server', messageId: 'm-1', contactId: 'wi-1', step: 1 },
    ]);
  });
});
