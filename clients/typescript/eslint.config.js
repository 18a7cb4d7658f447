// ESLint flat config for the client (strict TypeScript, ES modules); `npm run lint`, and `make lint-client`
// runs it with the type check (tsconfig.json). The engine's rules (engine/eslint.config.js), in their
// typescript-eslint form, on top of typescript-eslint's type-aware recommended set: a client made of
// promises needs the checks only types allow (a floating promise, an `await` of a non-promise).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // dist/ is tsc's output; src/schema.ts is openapi-typescript's (`npm run generate`), checked by tsc.
    ignores: ['node_modules/**', 'dist/**', 'src/schema.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      // A disable comment that no longer silences anything is a leftover: report it.
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Chosen on purpose, beyond the recommended sets (as in the engine):
      // - `_`-prefixed names are the one way to say "unused on purpose"; everything else unused is a leftover.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // `==` coercions hide type confusion; `== null` stays allowed: it means null or undefined.
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // Reassigning a parameter hides the value the caller passed from later readers of the function.
      'no-param-reassign': 'error',
      // A library prints nothing: its callers decide what goes to their console or logs.
      'no-console': 'error',
      // Throwing strings or plain objects loses the stack (and GarageError's typed fields).
      'no-throw-literal': 'off',
      '@typescript-eslint/only-throw-error': 'error',
      'prefer-const': 'error',
      'no-var': 'error',
      // Exported functions say what they return: the package's API is its signatures.
      '@typescript-eslint/explicit-module-boundary-types': 'error',
    },
  },
  {
    // The config file is plain JavaScript: no types to check it against.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // node:test files: tests may print; describe/it return promises the runner itself awaits.
    files: ['test/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test'] }] },
      ],
    },
  },
);
