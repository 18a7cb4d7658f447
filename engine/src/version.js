// The engine commit Prisma Client Python 0.15.0 expects (its `expected_engine_version`);
// it is also the commit the @prisma/query-engine-wasm package was built from.
export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';
export const ENGINE_VERSION = '5.17.0';
