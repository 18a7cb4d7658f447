import { ENGINE_COMMIT } from './version.js';

/** @param {string[]} argv */
export async function main(argv) {
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
    return;
  }
  const { runServer } = await import('./server.js');
  await runServer(argv);
}
