#!/usr/bin/env node
// Stand-in for Prisma's native schema-engine binary, which cannot be downloaded here.
// Prisma CLI 5.17.0 only needs PRISMA_SCHEMA_ENGINE_BINARY to point at an executable that
// answers `--version` for `prisma generate` to run offline (see shared ARCHITECTURE.md, decision 3).
// Prisma CLI 6.19.3 runs on @prisma/schema-engine-wasm (prisma.config.ts), except that
// `migrate resolve --rolled-back` first asks the native engine
// `cli --datasource URL can-connect-to-database`: answered here for SQLite files (the file exists),
// in the engine's own error format (a JSON log line on stderr) when it does not.
// Anything else fails loudly: migrations/db commands run on the wasm engine, never through this.
const fs = require('node:fs');
const path = require('node:path');
// The engine commit, from the one place it is pinned: the wasm query engine's version in engine/package.json
// (`5.17.0-31.<commit>`).
const ENGINE_COMMIT = require('../engine/package.json').dependencies['@prisma/query-engine-wasm'].split('.').pop();
if (!/^[0-9a-f]{40}$/.test(ENGINE_COMMIT)) throw new Error(`no engine commit in engine/package.json: ${ENGINE_COMMIT}`);
const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-V')) {
  process.stdout.write(`schema-engine-cli ${ENGINE_COMMIT}\n`);
  process.exit(0);
}
const datasource = args[0] === 'cli' && args[1] === '--datasource' ? args[2] : undefined;
if (datasource !== undefined && args[3] === 'can-connect-to-database' && args.length === 4) {
  const fail = (code, message) => {
    const fields = { is_panic: false, error_code: code, message };
    process.stderr.write(`${JSON.stringify({ level: 'ERROR', target: 'schema_engine::logger', fields })}\n`);
    process.exit(1);
  };
  const m = /^file:(?:\/\/(?=\/))?([^?]*)/.exec(datasource);
  if (!m) fail('P1001', 'schema-engine-stub: only SQLite file: URLs are supported');
  const file = path.resolve(m[1]); // the CLI runs this in the schema's folder
  if (!fs.existsSync(file)) fail('P1003', `Database \`${path.basename(file)}\` does not exist at \`${file}\``);
  process.exit(0);
}
process.stderr.write(
  `schema-engine-stub: only --version and can-connect-to-database are supported (got: ${args.join(' ') || '<no arguments>'}).\n` +
    'This project has no native schema engine; see ARCHITECTURE.md decision 3.\n',
);
process.exit(1);
