/** Two projects so `npm run test:unit` stays fast and needs no broker. */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
    },
    // Browser tests of the dashboard: headless Chromium (Debian's, via playwright-core) against the real service.
    { ...common, displayName: 'ui', testMatch: ['<rootDir>/tests/ui/**/*.test.ts'] },
    // The fault suite runs for minutes against its own broker node and Redis: only when asked for
    // (`npm run test:fault`, `npm run test:fault:quick` set FAULT_SUITE=1), never as part of `npm test`.
    ...(process.env.FAULT_SUITE === '1' ? [{ ...common, displayName: 'fault', testMatch: ['<rootDir>/tests/fault/**/*.test.ts'] }] : []),
  ],
  // Jest 30 reads the timeout only at the top level; integration tests wait on real brokers and processes.
  testTimeout: 60000,
};
