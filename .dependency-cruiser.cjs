/**
 * The dependency rules of src/ (checked in `npm test` by `npm run lint:deps`):
 *   domain ← application ← adapters, with ports between application and adapters; no cycles.
 * config/, cli/, wiring/, service.ts and main.ts are the composition around them and may use any layer.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'An import cycle: split the shared piece out.', from: {}, to: { circular: true } },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'domain/ is pure: it imports only other domain modules (no I/O, no libraries, no node builtins).',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'application-uses-domain-and-ports',
      severity: 'error',
      comment: 'application/ talks to the world only through ports/ (and uses domain/).',
      from: { path: '^src/application/' },
      to: { pathNot: '^src/(application|domain|ports)/' },
    },
    {
      name: 'ports-are-interfaces',
      severity: 'error',
      comment: 'ports/ describe what the application needs: they may name domain types only.',
      from: { path: '^src/ports/' },
      to: { pathNot: '^src/(ports|domain)/' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      comment: 'One adapter reaches another only through a port (wiring happens in service.ts/main.ts).',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/adapters/([^/]+)/', pathNot: '^src/adapters/$1/' },
    },
    {
      name: 'no-layer-imports-the-composition',
      severity: 'error',
      comment: 'Nothing below the composition imports service.ts, main.ts, wiring/ or the CLI.',
      from: { path: '^src/(domain|application|ports|adapters)/' },
      to: { path: '^src/(service|main)\\.ts$|^src/(cli|wiring)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    includeOnly: '^src/',
  },
};
