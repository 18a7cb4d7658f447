import fs from 'node:fs';
import path from 'node:path';

export class ConfigurationError extends Error {
  name = 'ConfigurationError';
}

/**
 * @typedef {object} Datasource
 * @property {string} name
 * @property {string} provider
 * @property {string} url        as configured (after env substitution and overrides)
 * @property {string} filePath   absolute path of the SQLite file
 */

/**
 * Reads the schema the client hands over (PRISMA_DML_PATH) and works out which SQLite file to open,
 * the way Prisma's Rust engine did: `OVERWRITE_DATASOURCES` wins, then `url = env("X")`, then a
 * literal url; a relative `file:` path is relative to the schema file's folder.
 *
 * @param {{schemaPath: string, datamodel: string, env: NodeJS.ProcessEnv}} input
 * @returns {Datasource}
 */
export function resolveDatasource({ schemaPath, datamodel, env }) {
  const block = findDatasourceBlock(datamodel);
  if (!block) throw new ConfigurationError('The schema has no datasource block');

  const provider = readStringProperty(block.body, 'provider');
  if (provider !== 'sqlite') {
    throw new ConfigurationError(`This engine serves SQLite only; the datasource provider is "${provider}"`);
  }

  const url = overriddenUrl(block.name, env.OVERWRITE_DATASOURCES) ?? configuredUrl(block.body, env);
  if (!url) throw new ConfigurationError(`The datasource "${block.name}" has no url`);

  return { name: block.name, provider, url, filePath: sqliteFilePath(url, path.dirname(path.resolve(schemaPath))) };
}

/** @param {string} datamodel */
function findDatasourceBlock(datamodel) {
  const withoutComments = datamodel.replace(/\/\/[^\n]*/g, '');
  const match = /datasource\s+(\w+)\s*\{([^}]*)\}/m.exec(withoutComments);
  return match ? { name: match[1], body: match[2] } : null;
}

/** @param {string} body @param {string} key */
function readStringProperty(body, key) {
  const match = new RegExp(`^\\s*${key}\\s*=\\s*"((?:[^"\\\\]|\\\\.)*)"`, 'm').exec(body);
  return match ? JSON.parse(`"${match[1]}"`) : undefined;
}

/** @param {string} body @param {NodeJS.ProcessEnv} env */
function configuredUrl(body, env) {
  const fromEnv = /^\s*url\s*=\s*env\(\s*"([^"]+)"\s*\)/m.exec(body);
  if (fromEnv) {
    const value = env[fromEnv[1]];
    if (!value) throw new ConfigurationError(`Environment variable not found: ${fromEnv[1]}.`);
    return value;
  }
  return readStringProperty(body, 'url');
}

/** @param {string} name @param {string | undefined} raw */
function overriddenUrl(name, raw) {
  if (!raw) return undefined;
  let overrides;
  try {
    overrides = JSON.parse(raw);
  } catch {
    throw new ConfigurationError('OVERWRITE_DATASOURCES is not valid JSON');
  }
  if (!Array.isArray(overrides)) throw new ConfigurationError('OVERWRITE_DATASOURCES must be a JSON array');
  const match = overrides.find((entry) => entry && entry.name === name) ?? (overrides.length === 1 ? overrides[0] : undefined);
  return match && typeof match.url === 'string' ? match.url : undefined;
}

/**
 * `file:dev.db`, `file:./dev.db`, `file:/abs/dev.db`, `file:///abs/dev.db`, `sqlite:dev.db`;
 * query parameters (`?connection_limit=1`, `?socket_timeout=`) are Prisma settings, not part of the path.
 * @param {string} url @param {string} baseDir
 */
export function sqliteFilePath(url, baseDir) {
  const match = /^(?:file|sqlite):(.*)$/.exec(url.trim());
  if (!match) throw new ConfigurationError(`The SQLite url must start with "file:" (got "${url}")`);
  let location = match[1].split('?')[0];
  if (location.startsWith('//')) {
    location = decodeURIComponent(new URL(`file:${location}`).pathname);
  }
  if (!location) throw new ConfigurationError(`The SQLite url has no file path (got "${url}")`);
  if (location === ':memory:') throw new ConfigurationError('In-memory SQLite is not supported: give a file path');
  return path.isAbsolute(location) ? location : path.resolve(baseDir, location);
}

/** @param {string} schemaPath */
export function readDatamodel(schemaPath) {
  try {
    return fs.readFileSync(schemaPath, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`Cannot read the schema at ${schemaPath}: ${/** @type {Error} */ (error).message}`);
  }
}
