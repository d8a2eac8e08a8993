// Events wait here until the server has stored them: each gets a UUID `event_id` when tracked,
// the queue is persisted through the storage adapter after every change, and it is sent in
// `POST /analytics/track/batch` chunks (at most the contract's 1000 events). An event leaves
// the queue only once the server has answered for it, and a re-sent event is never counted
// twice: the server stores an `event_id` once and counts a repeat as a duplicate.
//
// A failed flush is retried with exponential back-off (1 s doubling to 5 min, jittered), or
// after `Retry-After` when the server said. A chunk refused as invalid (422, nothing stored)
// loses only the events the server named, reported through `onRejected`; the rest are re-sent.
import { WellbeingError } from "./errors.js";
import { TRACK_BATCH_MAX_EVENTS } from "./generated/routes.js";
import { type StorageAdapter, readJson } from "./storage.js";
import type { Transport } from "./transport.js";
import type { BatchOutcome, EventType } from "./types.js";

export type QueuedEvent = { type: EventType; event_id: string } & Record<string, unknown>;

export interface FlushResult {
  /** Events the server stored for the first time during this flush. */
  accepted: number;
  /** Events it already had (re-sent after a lost answer) or repeated within a chunk. */
  duplicates: number;
  /** Events refused as invalid and dropped. */
  rejected: number;
  /** Events still waiting. */
  remaining: number;
  /** Why the flush stopped early, when it did. */
  error?: WellbeingError;
  /** When the next automatic try is due, when one is scheduled (milliseconds from now). */
  retryInMs?: number;
}

interface Stored {
  owner: string | undefined;
  events: QueuedEvent[];
}

const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 300_000;

export interface QueueOptions {
  /** Send soon after each tracked event, and retry failures by themselves (default true). */
  autoFlush: boolean;
  chunkSize: number;
  onRejected: ((events: QueuedEvent[], error: WellbeingError) => void) | undefined;
  onAfterSend: () => Promise<void>;
}

export class EventQueue {
  private events: QueuedEvent[] = [];
  private owner: string | undefined;
  private loaded: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private flushing: Promise<FlushResult> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private readonly chunkSize: number;

  constructor(
    private readonly transport: Transport,
    private readonly storage: StorageAdapter,
    private readonly key: string,
    private readonly options: QueueOptions,
  ) {
    this.chunkSize = Math.min(Math.max(1, options.chunkSize), TRACK_BATCH_MAX_EVENTS);
  }

  private load(): Promise<void> {
    this.loaded ??= readJson<Stored>(this.storage, this.key).then((stored) => {
      if (!stored) return;
      this.owner = stored.owner;
      this.events = [...stored.events, ...this.events];
    });
    return this.loaded;
  }

  async add(event: QueuedEvent): Promise<void> {
    await this.load();
    this.events.push(event);
    await this.save();
    if (this.options.autoFlush) this.schedule(0);
  }

  async size(): Promise<number> {
    await this.load();
    return this.events.length;
  }

  /** Sends every waiting event now (one flush at a time: a second caller shares the first). */
  flush(): Promise<FlushResult> {
    this.flushing ??= this.sendAll().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** The events belong to `owner` from now on; another account's are dropped unsent. */
  async claim(owner: string | undefined): Promise<void> {
    await this.load();
    if (this.owner !== undefined && this.owner !== owner) this.events = [];
    this.owner = owner;
    await this.save();
    if (this.options.autoFlush && this.events.length > 0) this.schedule(0);
  }

  async clear(): Promise<void> {
    await this.load();
    this.stop();
    this.events = [];
    this.owner = undefined;
    await this.save();
  }

  /** Stops the automatic retries (the app is closing; the queue stays persisted). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private async sendAll(): Promise<FlushResult> {
    await this.load();
    const result: FlushResult = { accepted: 0, duplicates: 0, rejected: 0, remaining: 0 };
    while (this.events.length > 0) {
      const chunk = this.events.slice(0, this.chunkSize);
      try {
        const answer = await this.transport.send({
          method: "POST",
          path: "/api/v1/analytics/track/batch",
          body: { events: chunk },
          authenticated: true,
        });
        const outcome = (answer.body as { data: BatchOutcome }).data;
        result.accepted += outcome.accepted;
        result.duplicates += outcome.duplicates;
        await this.remove(chunk);
        this.failures = 0;
      } catch (error) {
        const failure =
          error instanceof WellbeingError
            ? error
            : new WellbeingError({ status: 0, code: "unexpected_answer", detail: String(error), cause: error });
        if (failure.status === 422 && failure.errors.length > 0) {
          // Nothing of the chunk was stored: drop the named events, send the rest again.
          const invalid = failure.errors.flatMap(({ index }) => chunk[index] ?? []);
          result.rejected += invalid.length;
          await this.remove(invalid);
          this.options.onRejected?.(invalid, failure);
          continue;
        }
        result.error = failure;
        if (failure.retryable && this.options.autoFlush) {
          this.failures += 1;
          result.retryInMs = this.retryDelay(failure);
          this.schedule(result.retryInMs);
        }
        break;
      }
    }
    if (result.accepted + result.duplicates > 0) await this.options.onAfterSend();
    result.remaining = this.events.length;
    return result;
  }

  private retryDelay(failure: WellbeingError): number {
    if (failure.retryAfter !== undefined) return failure.retryAfter * 1000;
    const exponential = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1));
    return exponential / 2 + Math.random() * (exponential / 2);
  }

  private async remove(sent: QueuedEvent[]): Promise<void> {
    const ids = new Set(sent.map((event) => event.event_id));
    this.events = this.events.filter((event) => !ids.has(event.event_id));
    await this.save();
  }

  private save(): Promise<void> {
    const snapshot: Stored = { owner: this.owner, events: [...this.events] };
    this.writing = this.writing
      .catch(() => undefined)
      .then(() =>
        snapshot.events.length === 0 && snapshot.owner === undefined
          ? this.storage.removeItem(this.key)
          : this.storage.setItem(this.key, JSON.stringify(snapshot)),
      );
    return this.writing;
  }
}

/** A random (v4) UUID: `crypto.randomUUID` where there is one, else from `getRandomValues`. */
export function randomUuid(): string {
  const crypto = (globalThis as { crypto?: Crypto }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  if (!crypto?.getRandomValues) {
    throw new Error("no secure random source: pass `uuid` in the client's options");
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
