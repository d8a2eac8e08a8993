// The last known answer of each view (a GET path with its query), with its `ETag`, kept in
// memory and through the storage adapter so that a cold start shows the last numbers at once.
//
// A view is served without asking the server while it is younger than the cache's life (5
// minutes by default) and no write of this client has touched it since. A write drops the
// views it affects from that state: their next read asks the server, with `If-None-Match`,
// and a 304 makes them current again without sending them twice.
import { type StorageAdapter, readJson } from "./storage.js";

export interface View {
  data: unknown;
  etag: string | undefined;
  /** Epoch milliseconds of the answer (or of the 304 that confirmed it). */
  storedAt: number;
  /** A write of this client may have changed it: ask before serving it. */
  stale: boolean;
}

interface Stored {
  owner: string | undefined;
  views: Record<string, View>;
}

/** Bound on the views kept: the oldest go first. */
const MAX_VIEWS = 64;

export class ViewStore {
  private views = new Map<string, View>();
  private owner: string | undefined;
  private loaded: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: StorageAdapter,
    private readonly key: string,
    private readonly now: () => number,
    readonly lifeMs: number,
  ) {}

  private load(): Promise<void> {
    this.loaded ??= readJson<Stored>(this.storage, this.key).then((stored) => {
      if (!stored || this.views.size > 0) return;
      this.owner = stored.owner;
      this.views = new Map(Object.entries(stored.views));
    });
    return this.loaded;
  }

  /** The last known answer of `path`, however old. */
  async get(path: string): Promise<View | undefined> {
    await this.load();
    return this.views.get(path);
  }

  /** Whether `view` may be served without asking the server. */
  isCurrent(view: View): boolean {
    return !view.stale && this.now() - view.storedAt < this.lifeMs;
  }

  async put(path: string, data: unknown, etag: string | undefined): Promise<void> {
    await this.load();
    this.views.delete(path); // re-inserted last: the map's order is the eviction order
    this.views.set(path, { data, etag, storedAt: this.now(), stale: false });
    while (this.views.size > MAX_VIEWS) {
      const oldest = this.views.keys().next().value;
      if (oldest === undefined) break;
      this.views.delete(oldest);
    }
    await this.save();
  }

  /** A 304: the kept answer is the server's current one. */
  async confirm(path: string): Promise<void> {
    const view = await this.get(path);
    if (!view) return;
    view.storedAt = this.now();
    view.stale = false;
    await this.save();
  }

  /** After a write: every view `affected` names must be asked for again (validators kept). */
  async invalidate(affected: (path: string) => boolean): Promise<void> {
    await this.load();
    for (const [path, view] of this.views) {
      if (affected(path)) view.stale = true;
    }
    await this.save();
  }

  /** The views belong to `owner` from now on; another account's are forgotten. */
  async claim(owner: string | undefined): Promise<void> {
    await this.load();
    if (this.owner !== undefined && this.owner !== owner) this.views.clear();
    this.owner = owner;
    await this.save();
  }

  async clear(): Promise<void> {
    await this.load();
    this.views.clear();
    this.owner = undefined;
    await this.save();
  }

  /** Writes are chained, so an older state never lands over a newer one. */
  private save(): Promise<void> {
    const snapshot: Stored = { owner: this.owner, views: Object.fromEntries(this.views) };
    this.writing = this.writing
      .catch(() => undefined)
      .then(() =>
        this.views.size === 0 && this.owner === undefined
          ? this.storage.removeItem(this.key)
          : this.storage.setItem(this.key, JSON.stringify(snapshot)),
      );
    return this.writing;
  }
}

/** The views a write may change, by the write's path. */
export function affectedBy(writePath: string): (viewPath: string) => boolean {
  const homeScreen = (view: string) =>
    view.startsWith("/api/v1/analytics/dashboard") || view.startsWith("/api/v1/analytics/quick-stats");
  if (writePath.startsWith("/api/v1/privacy/")) {
    return (view) => view.startsWith("/api/v1/privacy/") || homeScreen(view);
  }
  if (writePath.startsWith("/api/v1/analytics/goals")) {
    return (view) => view.startsWith("/api/v1/analytics/goals") || homeScreen(view);
  }
  if (writePath.startsWith("/api/v1/analytics/track/")) {
    // Tracked data feeds every derived view but the privacy score.
    return (view) => !view.startsWith("/api/v1/privacy/");
  }
  return () => true; // the profile (timezone) and anything else: everything may move
}
