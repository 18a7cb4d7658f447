import { ENGINE_COMMIT } from './version.js';

/** @param {string[]} argv */
export async function main(argv) {
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
    return;
  }
  // The database, its WAL and shared-memory files are created by whoever opens them first:
  // never world- or group-readable.
  process.umask(0o077);
  const { runServer } = await import('./server.js');
  await runServer(argv);
}
