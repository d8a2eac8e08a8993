// Where the client keeps what must survive a restart: tokens, the last known views and the
// queue of events not yet sent. The interface is AsyncStorage's (React Native), so
// `@react-native-async-storage/async-storage` can be passed as it is; a web build can wrap
// `localStorage`. The default keeps everything in memory (nothing survives a restart).

export interface StorageAdapter {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export class MemoryStorage implements StorageAdapter {
  private readonly items = new Map<string, string>();

  async getItem(key: string): Promise<string | null> {
    return this.items.get(key) ?? null;
  }

  async setItem(key: string, value: string): Promise<void> {
    this.items.set(key, value);
  }

  async removeItem(key: string): Promise<void> {
    this.items.delete(key);
  }

  /** The keys held (tests and debugging). */
  keys(): string[] {
    return [...this.items.keys()];
  }
}

/** Reads a JSON value, treating a missing or unreadable item as absent. */
export async function readJson<T>(storage: StorageAdapter, key: string): Promise<T | undefined> {
  const raw = await storage.getItem(key);
  if (raw === null) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}
