// What the live tests share: the gateway's address, a fetch spy that counts what is sent, and
// fresh accounts.
import { randomUUID } from "node:crypto";

import { type ClientOptions, MemoryStorage, WellbeingClient } from "../src/index.js";

export const BASE_URL = (process.env.WELLBEING_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");

export interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

/** A fetch that records each request it passes on (`down` makes it fail as offline). */
export class FetchSpy {
  readonly sent: Sent[] = [];
  down = false;

  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    const url = new URL(input);
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>));
    const record: Sent = {
      method: init?.method ?? "GET",
      path: url.pathname + url.search,
      headers,
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
      status: 0,
    };
    this.sent.push(record);
    if (this.down) throw new TypeError("fetch failed (simulated offline)");
    const response = await fetch(input, init);
    record.status = response.status;
    return response;
  };

  /** The requests sent to `path` (without query), optionally of one method. */
  to(path: string, method?: string): Sent[] {
    return this.sent.filter((sent) => sent.path.split("?")[0] === path && (!method || sent.method === method));
  }

  /** The requests that were not sign-in traffic. */
  get api(): Sent[] {
    return this.sent.filter((sent) => !sent.path.startsWith("/api/v1/auth/"));
  }

  reset(): void {
    this.sent.length = 0;
  }
}

export interface Account {
  email: string;
  password: string;
}

/** Registers a fresh account (and nothing else). */
export async function newAccount(): Promise<Account> {
  const account = { email: `sdk-${randomUUID()}@example.com`, password: `pw-${randomUUID()}` };
  const answer = await fetch(`${BASE_URL}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "sdk test", ...account }),
  });
  if (answer.status !== 201) throw new Error(`register answered ${answer.status}: ${await answer.text()}`);
  return account;
}

/** A client for a fresh, signed-in account, with a spy on its requests (sign-in not counted). */
export async function signedInClient(
  options: Partial<ClientOptions> = {},
): Promise<{ client: WellbeingClient; spy: FetchSpy; storage: MemoryStorage; account: Account }> {
  const spy = new FetchSpy();
  const storage = (options.storage as MemoryStorage | undefined) ?? new MemoryStorage();
  const client = new WellbeingClient({ baseUrl: BASE_URL, fetch: spy.fetch, storage, autoFlush: false, ...options });
  const account = await newAccount();
  await client.auth.signIn(account.email, account.password);
  spy.reset();
  return { client, spy, storage, account };
}

/** `YYYY-MM-DD` of the UTC day `daysAgo` before today (a fresh account's days are UTC). */
export function utcDate(daysAgo: number): string {
  return new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}
