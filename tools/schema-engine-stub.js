#!/usr/bin/env node
// Stand-in for Prisma's native schema-engine binary, which cannot be downloaded here.
// Prisma CLI 5.17.0 only needs PRISMA_SCHEMA_ENGINE_BINARY to point at an executable that
// answers `--version` for `prisma generate` to run offline (see shared ARCHITECTURE.md, decision 3).
// Anything else fails loudly: migrations/db commands go through another CLI, never through this.
const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';
const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-V')) {
  process.stdout.write(`schema-engine-cli ${ENGINE_COMMIT}\n`);
  process.exit(0);
}
process.stderr.write(
  `schema-engine-stub: only --version is supported (got: ${args.join(' ') || '<no arguments>'}).\n` +
    'This project has no native schema engine; see ARCHITECTURE.md decision 3.\n',
);
process.exit(1);
