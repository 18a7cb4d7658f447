// src/schema.ts is committed: regenerated here from docs/openapi.json exactly as `npm run generate`
// does, it must come out the same, and openapi-typescript must have nothing to warn about.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

// This file runs as dist/test/generated.test.js.
const root = fileURLToPath(new URL('../../', import.meta.url));
const REGENERATE = 'npm --prefix clients/typescript run generate';

/** The arguments of the `generate` script, with its --output pointed at `output`. */
function generateArguments(output: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = manifest.scripts['generate'];
  assert.ok(script !== undefined, 'package.json has a generate script');
  // One command with plain words: no quoting or shell syntax to interpret.
  const [command, ...args] = script.split(/\s+/);
  assert.equal(command, 'openapi-typescript', `the generate script runs openapi-typescript: ${script}`);
  const at = args.indexOf('--output');
  assert.ok(at >= 0 && args[at + 1] === 'src/schema.ts', `the generate script writes src/schema.ts: ${script}`);
  args[at + 1] = output;
  return args;
}

it('src/schema.ts is what docs/openapi.json generates, without warnings', () => {
  const document = join(root, '..', '..', 'docs', 'openapi.json');
  assert.ok(existsSync(document), `${document} is missing: the types are generated from it`);
  const folder = mkdtempSync(join(tmpdir(), 'garage-client-schema-'));
  try {
    const output = join(folder, 'schema.ts');
    const result = spawnSync(join(root, 'node_modules', '.bin', 'openapi-typescript'), generateArguments(output), {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(result.status, 0, `openapi-typescript failed:\n${result.stdout}${result.stderr}`);
    assert.equal(result.stderr.trim(), '', `openapi-typescript warned (fix docs/openapi.json):\n${result.stderr}`);
    const committed = readFileSync(join(root, 'src', 'schema.ts'), 'utf8');
    assert.ok(
      readFileSync(output, 'utf8') === committed,
      `src/schema.ts is out of date with docs/openapi.json: run \`${REGENERATE}\` and commit the result`,
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
