export { createGarageClient } from './client.js';
export type { GarageClient, GarageClientOptions, GarageMethod, SuccessData } from './client.js';
export { GarageError, isGarageError, UNEXPECTED_RESPONSE } from './errors.js';
export type { ErrorCode, ErrorEnvelope } from './errors.js';
export { paginate } from './paginate.js';
export type { Page, PageRequest } from './paginate.js';
export type * from './types.js';
export type { components, operations, paths } from './schema.js';
