// One HTTP exchange with the gateway: the URL, JSON in and out, the bearer token, and the
// contract's error body turned into a WellbeingError. A 401 on an authenticated call asks the
// session for a refresh (shared by every caller that met the 401) and repeats the call once.
import { WellbeingError, errorFromAnswer, networkError } from "./errors.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface Call {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** A path of the contract (`/api/v1/...`), with its query string if any. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Whether the call carries the bearer token (all but register, login and refresh). */
  authenticated: boolean;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined for 204, 304 and empty bodies. */
  body: unknown;
}

/** What the transport needs from the signed-in session. */
export interface Session {
  /** The access token to send, refreshed first when it is known to have expired. */
  accessToken(): Promise<string | undefined>;
  /** After a 401 for `rejected`: whether a fresh token is now there to try again with. */
  refreshAfterRejection(rejected: string): Promise<boolean>;
}

export class Transport {
  session: Session | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: FetchLike,
  ) {}

  /** Sends `call`; a 2xx or a 304 is answered, anything else thrown as a WellbeingError. */
  async send(call: Call): Promise<Answer> {
    if (!call.authenticated || !this.session) return this.once(call, undefined);
    const token = await this.session.accessToken();
    if (token === undefined) throw signedOut();
    try {
      return await this.once(call, token);
    } catch (error) {
      if (!(error instanceof WellbeingError) || error.status !== 401) throw error;
      if (!(await this.session.refreshAfterRejection(token))) throw signedOut(error);
      const fresh = await this.session.accessToken();
      if (fresh === undefined) throw signedOut(error);
      return this.once(call, fresh);
    }
  }

  private async once(call: Call, token: string | undefined): Promise<Answer> {
    const headers: Record<string, string> = { accept: "application/json", ...call.headers };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(this.baseUrl + call.path, { method: call.method, headers, body });
    } catch (error) {
      throw networkError(error);
    }
    let parsed: unknown;
    try {
      const text = await response.text();
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch (error) {
      // A cut-off or non-JSON body: the answer cannot be trusted whatever its status.
      if (response.ok) throw networkError(error);
      parsed = undefined;
    }
    if (response.ok || response.status === 304) {
      return { status: response.status, headers: response.headers, body: parsed };
    }
    throw errorFromAnswer(response.status, response.headers, parsed);
  }
}

function signedOut(cause?: unknown): WellbeingError {
  return new WellbeingError({
    status: 401,
    code: "signed_out",
    detail: "not signed in: sign in again",
    cause,
  });
}

/** `path` with `query`'s defined values appended, in a fixed order (the cache key). */
export function withQuery(path: string, query: Record<string, unknown> | undefined): string {
  if (!query) return path;
  const pairs = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== null)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  return pairs.length === 0 ? path : `${path}?${pairs.join("&")}`;
}
