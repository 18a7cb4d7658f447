import { parse, Kind } from 'graphql';
import { ProtocolError } from './errors.js';
import { validateOperation, READ_ACTIONS } from './json-protocol.js';

/**
 * Translation between Prisma's GraphQL protocol (what Prisma Client Python speaks) and the JSON
 * protocol (what the wasm query engine accepts).
 *
 * GraphQL:  mutation { result: createOneUser(data: {name: "A"}) { id name posts(take: 1) { id } } }
 * JSON:     {"modelName": "User", "action": "createOne", "query": {"arguments": {"data": {"name": "A"}},
 *            "selection": {"id": true, "name": true, "posts": {"arguments": {"take": 1}, "selection": {"id": true}}}}}
 */

// Longest prefixes first so that e.g. `findUniqueUserOrThrow` is not read as model `UniqueUser...`.
const MODEL_ACTIONS = ['findUnique', 'findFirst', 'findMany', 'createOne', 'createMany', 'updateOne', 'updateMany',
  'upsertOne', 'deleteOne', 'deleteMany', 'aggregate', 'groupBy'];
const THROWING_ACTIONS = new Set(['findUnique', 'findFirst']);
const RAW_ACTIONS = new Set(['queryRaw', 'executeRaw']);

/**
 * A JSON value whose text is kept verbatim: GraphQL integers beyond 2^53 (BigInt columns) would
 * lose digits as JS numbers, so numbers travel as their source text.
 */
class RawNumber {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
  }
}

/**
 * @typedef {object} TranslatedQuery
 * @property {string} json         the JSON-protocol body for one operation
 * @property {string} alias        root alias the client expects in `data` (normally "result")
 * @property {string} action       JSON-protocol action
 * @property {boolean} isRead
 */

/**
 * @param {string} source GraphQL document of one operation
 * @param {Record<string, unknown> | undefined} variables
 * @param {Set<string>} modelNames
 * @returns {TranslatedQuery}
 */
export function translateOperation(source, variables, modelNames) {
  if (typeof source !== 'string') throw new ProtocolError('"query" must be a string');
  let document;
  try {
    document = parse(source, { noLocation: true });
  } catch (error) {
    if (error instanceof RangeError) throw new ProtocolError('The GraphQL query is nested too deeply');
    throw new ProtocolError(`Invalid GraphQL query: ${/** @type {Error} */ (error).message}`);
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) throw new ProtocolError('Expected exactly one GraphQL operation');
  const fields = /** @type {import('graphql').OperationDefinitionNode} */ (operations[0]).selectionSet.selections;
  if (fields.length !== 1 || fields[0].kind !== Kind.FIELD) throw new ProtocolError('Expected exactly one root field');
  const root = /** @type {import('graphql').FieldNode} */ (fields[0]);

  const { modelName, action } = splitRootField(root.name.value, modelNames);
  const context = { variables: variables ?? {} };
  const query = {
    arguments: argumentsToJson(root.arguments ?? [], context),
    selection: root.selectionSet ? selectionToJson(root.selectionSet, context) : {},
  };
  const body = modelName === undefined ? { action, query } : { modelName, action, query };
  validateOperation(body, modelNames);
  return { json: serialize(body), alias: root.alias?.value ?? root.name.value, action, isRead: READ_ACTIONS.has(action) };
}

/** @param {string} fieldName @param {Set<string>} modelNames */
function splitRootField(fieldName, modelNames) {
  if (RAW_ACTIONS.has(fieldName)) return { modelName: undefined, action: fieldName };
  for (const prefix of MODEL_ACTIONS) {
    if (!fieldName.startsWith(prefix)) continue;
    let model = fieldName.slice(prefix.length);
    let action = prefix;
    if (THROWING_ACTIONS.has(prefix) && model.endsWith('OrThrow') && !modelNames.has(model)) {
      model = model.slice(0, -'OrThrow'.length);
      action = `${prefix}OrThrow`;
    }
    if (modelNames.has(model)) return { modelName: model, action };
  }
  throw new ProtocolError(`Unknown operation "${fieldName}"`);
}

/**
 * @param {readonly import('graphql').ArgumentNode[]} args
 * @param {{variables: Record<string, unknown>}} context
 */
function argumentsToJson(args, context) {
  /** @type {Record<string, unknown>} */
  const result = {};
  for (const arg of args) result[arg.name.value] = valueToJson(arg.value, context);
  return result;
}

/**
 * @param {import('graphql').SelectionSetNode} selectionSet
 * @param {{variables: Record<string, unknown>}} context
 */
function selectionToJson(selectionSet, context) {
  /** @type {Record<string, unknown>} */
  const selection = {};
  for (const node of selectionSet.selections) {
    if (node.kind !== Kind.FIELD) throw new ProtocolError('Fragments are not supported');
    const name = node.name.value;
    const hasArguments = node.arguments !== undefined && node.arguments.length > 0;
    if (!node.selectionSet && !hasArguments) {
      selection[name] = true;
      continue;
    }
    /** @type {Record<string, unknown>} */
    const field = {};
    if (hasArguments) field.arguments = argumentsToJson(node.arguments ?? [], context);
    if (node.selectionSet) field.selection = selectionToJson(node.selectionSet, context);
    selection[name] = field;
  }
  return selection;
}

/**
 * @param {import('graphql').ValueNode} node
 * @param {{variables: Record<string, unknown>}} context
 * @returns {unknown}
 */
function valueToJson(node, context) {
  switch (node.kind) {
    case Kind.INT:
    case Kind.FLOAT:
      return new RawNumber(node.value);
    case Kind.STRING:
      return node.value;
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.ENUM:
      return node.value;
    case Kind.LIST:
      return node.values.map((value) => valueToJson(value, context));
    case Kind.OBJECT: {
      /** @type {Record<string, unknown>} */
      const object = {};
      for (const field of node.fields) object[field.name.value] = valueToJson(field.value, context);
      return object;
    }
    case Kind.VARIABLE: {
      const name = node.name.value;
      if (!Object.hasOwn(context.variables, name)) throw new ProtocolError(`Variable "$${name}" is not defined`);
      return context.variables[name];
    }
    default:
      throw new ProtocolError('Unsupported GraphQL value');
  }
}

/** JSON.stringify that writes RawNumber verbatim. @param {unknown} value @returns {string} */
export function serialize(value) {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = [];
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${serialize(item)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// The JSON protocol tags values whose JSON form is ambiguous; the GraphQL protocol sent them bare.
const TAGGED_VALUE = /\{"\$type":"(?:DateTime|BigInt|Decimal|Bytes|Json)","value":("(?:[^"\\]|\\.)*")\}/g;

/**
 * Reshapes a JSON-protocol result (`{"data": {"createOneUser": ...}}`) into the GraphQL protocol's
 * (`{"data": {"result": ...}}`, untagged values). Works on the text: the engine's output is compact
 * JSON, and inside JSON strings every quote is escaped, so a tag pattern can only match a real tag.
 *
 * @param {string} text engine output for one operation
 * @param {string} alias
 */
export function toGraphqlResult(text, alias) {
  const untagged = text.includes('"$type"') ? text.replace(TAGGED_VALUE, '$1') : text;
  const match = /^\{"data":\{"(?:[^"\\]|\\.)*":/.exec(untagged);
  if (!match) return untagged; // errors pass through unchanged
  return `{"data":{${JSON.stringify(alias)}:${untagged.slice(match[0].length)}`;
}
