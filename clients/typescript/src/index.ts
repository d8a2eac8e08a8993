// @wellbeing/client: the wellbeing app's API client. See README.md in this folder.
export { WellbeingClient, DEFAULT_CACHE_LIFE_MS } from "./client.js";
export type { ClientOptions, TrackInput, ViewRequest } from "./client.js";
export { WellbeingError } from "./errors.js";
export type { ErrorCode, EventError } from "./errors.js";
export { MemoryStorage } from "./storage.js";
export type { StorageAdapter } from "./storage.js";
export type { FlushResult, QueuedEvent } from "./queue.js";
export type { SignedOutReason } from "./auth.js";
export type { FetchLike } from "./transport.js";
export type { ReadOptions } from "./reads.js";
export type * from "./types.js";
