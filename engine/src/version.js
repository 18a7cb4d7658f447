import { createRequire } from 'node:module';

// The engine's version and commit are those of the @prisma/query-engine-wasm package it runs, whose
// npm version is `<prisma version>-<build>.<engine commit>` (5.17.0-31.393aa359…): pinned once, in
// package.json. Prisma Client Python 0.15.0 checks `query-engine --version` against its
// `expected_engine_version` (that commit) when it starts the engine.
const require = createRequire(import.meta.url);
const WASM_PACKAGE_VERSION = /** @type {{version: string}} */ (require('@prisma/query-engine-wasm/package.json')).version;

/**
 * @param {string} packageVersion
 * @returns {{version: string, commit: string}}
 */
export function parseEngineVersion(packageVersion) {
  const match = /^(\d+\.\d+\.\d+)-\d+\.([0-9a-f]{40})$/.exec(packageVersion);
  if (!match) throw new Error(`@prisma/query-engine-wasm ${packageVersion}: expected <version>-<build>.<40-hex commit>`);
  return { version: match[1], commit: match[2] };
}

const { version, commit } = parseEngineVersion(WASM_PACKAGE_VERSION);
export const ENGINE_COMMIT = commit;
export const ENGINE_VERSION = version;
