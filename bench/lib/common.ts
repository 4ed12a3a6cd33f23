/** Shared plumbing of the benchmarks, by concern: base, args, environment, broker, statistics. */
export * from './base';
export * from './args';
export * from './environment';
export * from './broker';
export * from './statistics';
