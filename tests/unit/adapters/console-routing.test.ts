import { routeConsoleToLogger } from '../../../src/adapters/logging/logger';

/** Client libraries' console output becomes JSON log lines; Node's own process warnings stay warnings. */
describe('routeConsoleToLogger', () => {
  const saved = { error: console.error, warn: console.warn, log: console.log, info: console.info };
  afterEach(() => Object.assign(console, saved));

  it('logs console.warn as warn, console.error as error, and a Node process warning on console.error as warn', () => {
    const lines: [string, string, unknown][] = [];
    const at = (level: string) => (message: string, meta?: unknown) => void lines.push([level, message, meta]);
    routeConsoleToLogger({ error: at('error'), warn: at('warn'), info: at('info') });
    console.warn('[WARN] Redis server does not require a password, but a password was supplied');
    console.error('boom');
    console.error('(node:19793) Warning: NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)');
    console.error('(node:1) [DEP0005] DeprecationWarning: Buffer() is deprecated');
    expect(lines.map(([level, , meta]) => [level, (meta as { source: string }).source])).toEqual([
      ['warn', 'console.warn'],
      ['error', 'console.error'],
      ['warn', 'console.error'],
      ['warn', 'console.error'],
    ]);
  });
});
