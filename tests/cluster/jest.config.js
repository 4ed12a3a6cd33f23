/**
 * `npm run test:cluster`: the scale-out test (a real 3-node RabbitMQ cluster, Redis with Sentinel, two
 * service instances). Not part of the default `jest` run: it takes minutes and starts many processes.
 */
const path = require('node:path');

module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  displayName: 'cluster',
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/tests/cluster/**/*.test.ts'],
  testTimeout: 900000,
  // Progress lines (items, faults, recovery times) are the point of this test: show them as they come.
  verbose: true,
};
