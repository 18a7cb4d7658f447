#!/usr/bin/env node
// Entry point with the Rust query-engine binary's command line (see ../README.md).
import { main } from '../src/cli.js';

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
