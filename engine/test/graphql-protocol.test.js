import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../src/errors.js';
import { translateOperation, toGraphqlResult, serialize } from '../src/graphql-protocol.js';

const models = new Set(['User', 'Post', 'UserOrThrow']);
const plainModels = new Set(['User', 'Post']);

test('a find with nested selection becomes a JSON-protocol query', () => {
  const op = translateOperation(`query { result: findManyUser(where: {name: {contains: "a\\"b"}}, take: 2, orderBy: [{id: "asc"}])
    { id name posts(take: 1, where: {published: true}) { id } _count { posts } } }`, {}, models);
  assert.equal(op.alias, 'result');
  assert.equal(op.isRead, true);
  assert.deepEqual(JSON.parse(op.json), {
    modelName: 'User',
    action: 'findMany',
    query: {
      arguments: { where: { name: { contains: 'a"b' } }, take: 2, orderBy: [{ id: 'asc' }] },
      selection: {
        id: true, name: true,
        posts: { arguments: { take: 1, where: { published: true } }, selection: { id: true } },
        _count: { selection: { posts: true } },
      },
    },
  });
});

test('OrThrow actions, writes and raw queries map to their JSON-protocol actions', () => {
  assert.equal(translateOperation('query { result: findUniqueUserOrThrow(where: {id: "1"}) { id } }', {}, plainModels).action, 'findUniqueOrThrow');
  assert.equal(translateOperation('query { result: findFirstUserOrThrow { id } }', {}, plainModels).action, 'findFirstOrThrow');
  // a model whose name itself ends in OrThrow is still found (findMany has no OrThrow form)
  assert.equal(JSON.parse(translateOperation('query { result: findManyUserOrThrow { id } }', {}, models).json).modelName, 'UserOrThrow');
  const write = translateOperation('mutation { result: upsertOnePost(where: {id: 1}, create: {id: 1}, update: {}) { id } }', {}, models);
  assert.equal(write.action, 'upsertOne');
  assert.equal(write.isRead, false);
  const raw = translateOperation('mutation { result: queryRaw(query: "SELECT 1", parameters: "[1]") }', {}, models);
  assert.deepEqual(JSON.parse(raw.json), { action: 'queryRaw', query: { arguments: { query: 'SELECT 1', parameters: '[1]' }, selection: {} } });
  assert.equal(raw.isRead, false, 'raw queries may write, so they go to the writer');
});

test('integers beyond 2^53 keep every digit', () => {
  const op = translateOperation('mutation { result: createOnePost(data: {big: 9223372036854775807, f: 1.5e+300}) { id } }', {}, models);
  assert.match(op.json, /"big":9223372036854775807/);
  assert.match(op.json, /"f":1.5e\+300/);
});

test('variables are substituted, undefined ones rejected', () => {
  const op = translateOperation('query Q($id: String) { result: findUniqueUser(where: {id: $id}) { id } }', { id: 'x' }, models);
  assert.equal(JSON.parse(op.json).query.arguments.where.id, 'x');
  assert.throws(() => translateOperation('query { result: findUniqueUser(where: {id: $nope}) { id } }', {}, models), ProtocolError);
});

test('unknown operations, syntax errors and several operations are protocol errors', () => {
  for (const source of ['query { result: findManyGhost { id } }', 'query { result: dropEverything }', 'query {', '{ a } { b }',
    'query { a: findManyUser { id } b: findManyUser { id } }', 'query { ...F } fragment F on X { id }']) {
    assert.throws(() => translateOperation(source, {}, models), ProtocolError, source);
  }
  assert.throws(() => translateOperation(/** @type {any} */ (42), {}, models), ProtocolError);
});

test('results are renamed to the alias and untagged', () => {
  const engine = '{"data":{"findUniqueUser":{"at":{"$type":"DateTime","value":"2024-01-01T00:00:00.000Z"},"big":{"$type":"BigInt","value":"9223372036854775807"},"d":{"$type":"Decimal","value":"1.10"},"b":{"$type":"Bytes","value":"AQI="},"n":1}}}';
  assert.equal(toGraphqlResult(engine, 'result'),
    '{"data":{"result":{"at":"2024-01-01T00:00:00.000Z","big":"9223372036854775807","d":"1.10","b":"AQI=","n":1}}}');
});

test('a user string that looks like a tag is left alone', () => {
  const text = JSON.stringify({ data: { findUniqueUser: { name: '{"$type":"DateTime","value":"x"}' } } });
  assert.deepEqual(JSON.parse(toGraphqlResult(text, 'result')), { data: { result: { name: '{"$type":"DateTime","value":"x"}' } } });
});

test('errors pass through unchanged', () => {
  const text = '{"errors":[{"error":"x","user_facing_error":{"is_panic":false,"message":"x","error_code":"P2002"}}]}';
  assert.equal(toGraphqlResult(text, 'result'), text);
});

test('serialize matches JSON.stringify for plain values', () => {
  const value = { a: [1, 'two', null, true, { b: 'é\n"' }], c: undefined };
  assert.equal(serialize(value), JSON.stringify(value));
});
