#!/usr/bin/env node
// Compiles better-sqlite3's native addon from the sources in its npm tarball, offline.
//
// Prisma Studio 7 opens SQLite files with node:sqlite on Node >= 22.5 and falls back to
// better-sqlite3 on older Node (this project runs Node 20). better-sqlite3 12.x ships no binary in
// its npm tarball: its install script (`prebuild-install || node-gyp rebuild --release`) downloads
// one from GitHub, which this project cannot reach, so install scripts stay off (.npmrc) and this
// script runs the second half directly: node-gyp (pinned in package.json) against the Node headers
// that are installed next to the running node (Debian's nodejs package: /usr/include/node), so
// node-gyp downloads nothing. Needs python3, make and g++ (all on the project's machine image).
// About a minute on 2 cores. Run it as `npm run --prefix tools/studio build-native` after
// `npm ci --prefix tools/studio`; it does nothing when the addon is already built and loads.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const here = __dirname
const pkgDir = path.dirname(require.resolve('better-sqlite3/package.json', { paths: [here] }))
const addon = path.join(pkgDir, 'build', 'Release', 'better_sqlite3.node')

// Loads better-sqlite3 in a child process (a broken addon can crash the process that loads it).
function addonWorks() {
  const probe = `const D = require(${JSON.stringify(pkgDir)}); const db = new D(':memory:');
    process.stdout.write(db.prepare('select sqlite_version() as v').get().v); db.close()`
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

// The directory whose include/node/ holds the running node's headers (node-gyp's --nodedir).
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..')]
  for (const dir of candidates.filter(Boolean)) {
    const versionH = path.join(dir, 'include', 'node', 'node_version.h')
    if (!fs.existsSync(versionH)) continue
    const text = fs.readFileSync(versionH, 'utf8')
    const part = (name) => (text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`)) || [])[1]
    const headers = `v${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`
    if (headers === process.version) return dir
    console.error(`build-native: ignoring ${versionH}: headers of ${headers}, node is ${process.version}`)
  }
  return null
}

if (fs.existsSync(addon)) {
  const version = addonWorks()
  if (version) {
    console.log(`build-native: better-sqlite3 already built (SQLite ${version}): ${addon}`)
    process.exit(0)
  }
  console.log('build-native: the existing better-sqlite3 build does not load; rebuilding')
}

const nodeDir = findNodeDir()
if (!nodeDir) {
  console.error(
    `build-native: no headers for node ${process.version} found (looked for include/node/node_version.h ` +
      `in $npm_config_nodedir and next to ${process.execPath}). Install the headers that match this ` +
      'node (Debian/NodeSource nodejs packages ship them in /usr/include/node) or set npm_config_nodedir.',
  )
  process.exit(1)
}

const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [here] })
const args = [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDir}`, `--jobs=${os.availableParallelism?.() ?? os.cpus().length}`]
console.log(`build-native: compiling better-sqlite3 in ${pkgDir} (node-gyp, --nodedir=${nodeDir}); about a minute`)
const started = Date.now()
const build = spawnSync(process.execPath, args, {
  cwd: pkgDir,
  stdio: ['ignore', 'inherit', 'inherit'],
  // Never let node-gyp reach for the network (headers or a Python download): everything is local.
  env: { ...process.env, npm_config_nodedir: nodeDir, npm_config_offline: 'true' },
})
if (build.status !== 0) {
  console.error(`build-native: node-gyp failed (exit ${build.status ?? build.signal}); needs python3, make and g++`)
  process.exit(1)
}
const version = addonWorks()
if (!version) {
  console.error(`build-native: built ${addon}, but it does not load`)
  process.exit(1)
}
console.log(`build-native: better-sqlite3 built in ${((Date.now() - started) / 1000).toFixed(0)} s (SQLite ${version})`)
