// ESLint (flat config) with typescript-eslint's recommended rules; formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', 'src/ui/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      // `_name` marks a parameter or destructured field that is deliberately unused (tsc's noUnused* agrees).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // The sanitizers and validators match control characters on purpose: that is their job.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests walk parsed JSON/YAML documents (compose output, Grafana dashboards, manifests) whose shape they assert.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Loads amqplib's own internal mux.js by path (not an exported subpath) to patch the very instance amqplib uses.
    files: ['src/adapters/rabbitmq/coalesce-writes.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Plain Node scripts (build helpers, the XSD child process): CommonJS or ESM with Node globals.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
