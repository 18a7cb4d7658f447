import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveDatasource, sqliteFilePath, ConfigurationError } from '../src/datasource.js';

const schema = (/** @type {string} */ url) => `// comment with datasource x { }\ndatasource db {\n  provider = "sqlite"\n  url      = ${url}\n}\nmodel A { id Int @id }\n`;

test('a relative file: url resolves against the schema folder, like the Rust engine', () => {
  const ds = resolveDatasource({ schemaPath: '/srv/app/prisma/schema.prisma', datamodel: schema('"file:./dev.db"'), env: {} });
  assert.equal(ds.filePath, '/srv/app/prisma/dev.db');
  assert.equal(ds.name, 'db');
});

test('env("X") is read from the environment; a missing variable is a clear error', () => {
  const ds = resolveDatasource({ schemaPath: '/s/schema.prisma', datamodel: schema('env("DATABASE_URL")'), env: { DATABASE_URL: 'file:/data/garage.db?connection_limit=1' } });
  assert.equal(ds.filePath, '/data/garage.db');
  assert.throws(() => resolveDatasource({ schemaPath: '/s/schema.prisma', datamodel: schema('env("DATABASE_URL")'), env: {} }), /DATABASE_URL/);
});

test('OVERWRITE_DATASOURCES wins over the schema', () => {
  const env = { OVERWRITE_DATASOURCES: JSON.stringify([{ name: 'db', url: 'file:other.db' }]) };
  const ds = resolveDatasource({ schemaPath: '/s/schema.prisma', datamodel: schema('"file:dev.db"'), env });
  assert.equal(ds.filePath, '/s/other.db');
  assert.throws(() => resolveDatasource({ schemaPath: '/s/schema.prisma', datamodel: schema('"file:dev.db"'), env: { OVERWRITE_DATASOURCES: '{' } }), ConfigurationError);
});

test('url forms', () => {
  assert.equal(sqliteFilePath('file:///abs/a.db', '/base'), '/abs/a.db');
  assert.equal(sqliteFilePath('file:/abs/a%20b.db', '/base'), '/abs/a%20b.db');
  assert.equal(sqliteFilePath('file://localhost/abs/a%20b.db', '/base'), '/abs/a b.db');
  assert.equal(sqliteFilePath('sqlite:rel.db', '/base'), '/base/rel.db');
  assert.throws(() => sqliteFilePath('postgres://x', '/base'), ConfigurationError);
  assert.throws(() => sqliteFilePath('file::memory:', '/base'), ConfigurationError);
  assert.throws(() => sqliteFilePath('file:', '/base'), ConfigurationError);
});

test('only SQLite is served', () => {
  const datamodel = 'datasource db {\n provider = "postgresql"\n url = "postgres://x"\n}';
  assert.throws(() => resolveDatasource({ schemaPath: '/s/schema.prisma', datamodel, env: {} }), /SQLite only/);
});
