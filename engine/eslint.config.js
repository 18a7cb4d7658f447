// ESLint flat config for the engine (Node 20, ES modules). `npm run lint`; `make lint-engine` runs it
// with the type check (tsconfig.json). ESLint looks for what the type checker cannot see (dead code,
// unused names, risky patterns); tsc checks the JSDoc types.
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
    },
    linterOptions: {
      // A disable comment that no longer silences anything is a leftover: report it.
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Chosen on purpose, beyond the recommended set:
      // - `_`-prefixed names are the one way to say "unused on purpose" (callback arity, destructuring
      //   that drops a key); everything else unused is a leftover.
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The engine's answers are compared with the Rust engine's byte for byte; `==` coercions hide
      // type confusion (a BigInt id against a string). `== null` stays allowed: it means null or undefined.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Reassigning a parameter hides the value the caller passed from later readers of the function.
      'no-param-reassign': 'error',
      // The engine logs through src/logger.js (JSON lines the service folds into its stream); a stray
      // console.log would write a non-JSON line to stdout.
      'no-console': 'error',
      // Throwing strings or plain objects loses the stack the 500 envelope and the log lines carry.
      'no-throw-literal': 'error',
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  {
    // node:test files: the test runner's describe/it are imported, not globals; tests may print.
    files: ['test/**/*.js'],
    rules: { 'no-console': 'off' },
  },
  {
    ignores: ['node_modules/**'],
  },
];
