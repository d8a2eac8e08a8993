// The client a mobile app holds: typed reads with dedup, cache and batching; tracked events
// through the offline queue; writes that drop the views they affect; the session.
import { type SignedOutReason, Auth } from "./auth.js";
import { EventQueue, type FlushResult, type QueuedEvent, randomUuid } from "./queue.js";
import { type ReadOptions, Reader } from "./reads.js";
import { MemoryStorage, type StorageAdapter } from "./storage.js";
import { type FetchLike, Transport, withQuery } from "./transport.js";
import type { EventBodies, EventType, GetData, GetPath, GetQuery, Schemas } from "./types.js";
import { ViewStore, affectedBy } from "./views.js";
import type { WellbeingError } from "./errors.js";

export interface ClientOptions {
  /** The gateway's origin, e.g. `https://api.example.com` (no `/api/v1`). */
  baseUrl: string;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Where tokens, views and queued events survive a restart; memory by default. */
  storage?: StorageAdapter;
  /** Prefix of the storage keys (default `wellbeing:`). */
  storageKeyPrefix?: string;
  /** How long a view is served without asking the server (default 5 minutes); 0 disables the cache. */
  cacheLifeMs?: number;
  /** Send the reads of one tick as one `POST /batch` (default true). */
  batching?: boolean;
  /** Send tracked events by themselves and retry with back-off (default true). */
  autoFlush?: boolean;
  /** Events per `/track/batch` request (default and maximum: the contract's 1000). */
  flushChunkSize?: number;
  /** Called when the server refused to refresh the session: the user must sign in again. */
  onSignedOut?: (reason: SignedOutReason) => void;
  /** Called with events the server refused as invalid (they are dropped). */
  onEventsRejected?: (events: QueuedEvent[], error: WellbeingError) => void;
  /** For tests: the clock and the id source. */
  now?: () => number;
  uuid?: () => string;
}

/** A view to read or prefetch: a GET path of the contract and its query. */
export interface ViewRequest<P extends GetPath = GetPath> {
  path: P;
  query?: GetQuery<P>;
}

/** What `track.*` takes: the event's body without the ids the SDK and the token provide. */
export type TrackInput<T extends EventType> = Optional<Omit<EventBodies[T], "event_id" | "user_id">>;

/** Fields that may be null (serde's `Option`) may also be left out. */
type NullableKeys<T> = { [K in keyof T]-?: null extends T[K] ? K : never }[keyof T];
type Optional<T> = Omit<T, NullableKeys<T>> & Partial<Pick<T, NullableKeys<T>>>;

export const DEFAULT_CACHE_LIFE_MS = 5 * 60 * 1000;

export class WellbeingClient {
  private readonly transport: Transport;
  private readonly views: ViewStore | undefined;
  private readonly reader: Reader;
  private readonly queue: EventQueue;
  private readonly session: Auth;
  private readonly now: () => number;
  private readonly uuid: () => string;

  constructor(options: ClientOptions) {
    const storage = options.storage ?? new MemoryStorage();
    const prefix = options.storageKeyPrefix ?? "wellbeing:";
    const fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
    this.uuid = options.uuid ?? randomUuid;
    this.transport = new Transport(options.baseUrl.replace(/\/+$/, ""), fetchImpl);
    const life = options.cacheLifeMs ?? DEFAULT_CACHE_LIFE_MS;
    this.views = life > 0 ? new ViewStore(storage, `${prefix}views`, this.now, life) : undefined;
    this.reader = new Reader(this.transport, this.views, options.batching ?? true);
    this.queue = new EventQueue(this.transport, storage, `${prefix}queue`, {
      autoFlush: options.autoFlush ?? true,
      chunkSize: options.flushChunkSize ?? Number.POSITIVE_INFINITY,
      onRejected: options.onEventsRejected,
      onAfterSend: () => this.invalidate("/api/v1/analytics/track/batch"),
    });
    this.session = new Auth(
      this.transport,
      storage,
      `${prefix}session`,
      this.now,
      async (everything) => {
        await this.views?.clear();
        if (everything) await this.queue.clear();
      },
      options.onSignedOut,
    );
    this.transport.session = this.session;
  }

  // --- session -------------------------------------------------------------------------------

  readonly auth = {
    register: (body: Optional<Schemas["RegisterBody"]>) =>
      this.session.register(body as Schemas["RegisterBody"]),
    /** Signs in; another account's kept views and queued events are dropped. */
    signIn: async (email: string, password: string): Promise<void> => {
      const owner = await this.session.signIn(email, password);
      await this.views?.claim(owner);
      await this.queue.claim(owner);
    },
    /** Ends the session and forgets the user's tokens, views and unsent events on this device. */
    signOut: () => this.session.signOut(),
    isSignedIn: () => this.session.isSignedIn(),
    userId: () => this.session.userId(),
    me: () => this.read("/api/v1/auth/me"),
    updateMe: (body: Optional<Schemas["UpdateMeBody"]>) =>
      this.write<Schemas["UserBody"]>("PATCH", "/api/v1/auth/me", body),
  };

  // --- reads ---------------------------------------------------------------------------------

  /** A view's data: kept and current, revalidated, or fetched (batched with others of the tick). */
  read<P extends GetPath>(path: P, query?: GetQuery<P>, options?: ReadOptions): Promise<GetData<P>> {
    return this.reader.read(withQuery(path, query as Record<string, unknown>), options) as Promise<GetData<P>>;
  }

  /** The last known data of a view, however old, without asking the server (a cold start's first
   * paint); `current` says whether it would be served as it is. */
  async cached<P extends GetPath>(
    path: P,
    query?: GetQuery<P>,
  ): Promise<{ data: GetData<P>; storedAt: number; current: boolean } | undefined> {
    const view = await this.views?.get(withQuery(path, query as Record<string, unknown>));
    if (!view || !this.views) return undefined;
    return { data: view.data as GetData<P>, storedAt: view.storedAt, current: this.views.isCurrent(view) };
  }

  /** Warms the cache with these views in the background; never throws. */
  async prefetch(views: readonly ViewRequest[]): Promise<void> {
    await Promise.allSettled(views.map((view) => this.read(view.path, view.query)));
  }

  dashboard = () => this.read("/api/v1/analytics/dashboard");
  quickStats = () => this.read("/api/v1/analytics/quick-stats");
  dailySummary = (date?: string) => this.read("/api/v1/analytics/summary/daily", { date });
  weeklySummary = (endDate?: string) => this.read("/api/v1/analytics/summary/weekly", { end_date: endDate });
  appsUsage = (days?: number) => this.read("/api/v1/analytics/apps/usage", { days });
  insights = () => this.read("/api/v1/analytics/insights");
  wellbeingScore = (date?: string) => this.read("/api/v1/wellbeing/score", { date });
  privacyScore = () => this.read("/api/v1/privacy/score");

  // --- writes --------------------------------------------------------------------------------

  readonly goals = {
    list: (status?: GetQuery<"/api/v1/analytics/goals">["status"]) => this.read("/api/v1/analytics/goals", { status }),
    create: (body: Optional<Schemas["CreateGoalBody"]>) =>
      this.write<Schemas["Goal"]>("POST", "/api/v1/analytics/goals", body),
    update: (id: string, body: Optional<Schemas["UpdateGoalBody"]>) =>
      this.write<Schemas["Goal"]>("PUT", `/api/v1/analytics/goals/${encodeURIComponent(id)}`, body),
    remove: (id: string) => this.write<void>("DELETE", `/api/v1/analytics/goals/${encodeURIComponent(id)}`),
  };

  readonly privacy = {
    report: (state: Optional<Schemas["PrivacyStateBody"]>) =>
      this.write<Schemas["PrivacyReport"]>("PUT", "/api/v1/privacy/state", state),
  };

  private async write<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
    try {
      const answer = await this.transport.send({ method, path, body, authenticated: true });
      const data = answer.body as { data?: unknown } | undefined;
      return (data && typeof data === "object" && "data" in data ? data.data : data) as T;
    } finally {
      // Even a failed write may have landed (the answer was lost): ask again either way.
      await this.invalidate(path);
    }
  }

  private invalidate(writePath: string): Promise<void> {
    return this.views?.invalidate(affectedBy(writePath)) ?? Promise.resolve();
  }

  // --- tracking ------------------------------------------------------------------------------

  /** Each method queues one event with a fresh `event_id` and its time taken now, and answers that id. */
  readonly track = {
    session: (event: TrackInput<"session">) => this.enqueue("session", event),
    screenTime: (event: TrackInput<"screen-time">) =>
      this.enqueue("screen-time", { ...event, timestamp: event.timestamp ?? this.isoAgo(event.duration_minutes) }),
    focusSession: (event: TrackInput<"focus-session">) => this.enqueue("focus-session", event),
    break: (event: TrackInput<"break">) =>
      this.enqueue("break", { ...event, timestamp: event.timestamp ?? this.isoAgo(event.duration_minutes) }),
    notification: (event: TrackInput<"notification">) =>
      this.enqueue("notification", { ...event, timestamp: event.timestamp ?? this.isoAgo(0) }),
    distraction: (event: TrackInput<"distraction">) =>
      this.enqueue("distraction", { ...event, timestamp: event.timestamp ?? this.isoAgo(0) }),
  };

  /** Sends the queued events now. */
  flush(): Promise<FlushResult> {
    return this.queue.flush();
  }

  /** Events tracked and not yet stored by the server. */
  pendingEvents(): Promise<number> {
    return this.queue.size();
  }

  /** Requests sent by reads so far (to see dedup, cache and batching at work). */
  get readRequests(): number {
    return this.reader.requestsSent;
  }

  /** Stops background retries; what is queued stays persisted for the next start. */
  close(): void {
    this.queue.stop();
  }

  private async enqueue(type: EventType, event: object): Promise<string> {
    const eventId = this.uuid();
    // The time is fixed now: sent later from the queue, "now" would be the flush's time.
    await this.queue.add({ ...event, type, event_id: eventId } as QueuedEvent);
    return eventId;
  }

  /** The instant `minutes` ago, RFC 3339 in UTC. */
  private isoAgo(minutes: number): string {
    return new Date(this.now() - minutes * 60_000).toISOString();
  }
}
