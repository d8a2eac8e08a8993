// The signed-in session: tokens kept through the storage adapter, refreshed before they expire
// or after a 401, one refresh at a time (two requests meeting a 401 together cause one refresh:
// the refresh token is single-use, so a second refresh would sign the user out). A refused
// refresh signs out locally and tells the app through `onSignedOut`.
import { WellbeingError } from "./errors.js";
import { ROUTES } from "./generated/routes.js";
import { type StorageAdapter, readJson } from "./storage.js";
import type { Session, Transport } from "./transport.js";
import type { Schemas, TokenPair } from "./types.js";

/** Refresh this long before the access token's announced expiry (clock skew, time in flight). */
const EXPIRY_MARGIN_MS = 30_000;

/** Issue 19 adds it: once the contract this SDK is built from lists it, sign-out revokes the session. */
const LOGOUT_ROUTE = "POST /api/v1/auth/logout";

interface StoredTokens {
  access: string;
  refresh: string;
  /** Epoch milliseconds when the access token expires. */
  expiresAt: number;
  /** The account the tokens belong to (the JWT's `sub`), to tell whose queued events are whose. */
  subject: string | undefined;
}

export type SignedOutReason = "refresh_refused";

export class Auth implements Session {
  private tokens: StoredTokens | undefined;
  private loaded: Promise<void> | undefined;
  private refreshing: Promise<boolean> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly storage: StorageAdapter,
    private readonly key: string,
    private readonly now: () => number,
    /** Clears what belongs to the signed-in user: views, and queued events too when `everything`
     * (a refused refresh keeps them for the same account's next sign-in). */
    private readonly forgetLocal: (everything: boolean) => Promise<void>,
    private readonly onSignedOut: ((reason: SignedOutReason) => void) | undefined,
  ) {}

  private load(): Promise<void> {
    this.loaded ??= readJson<StoredTokens>(this.storage, this.key).then((stored) => {
      this.tokens ??= stored;
    });
    return this.loaded;
  }

  async register(body: Schemas["RegisterBody"]): Promise<Schemas["UserBody"]> {
    const answer = await this.transport.send({
      method: "POST",
      path: "/api/v1/auth/register",
      body,
      authenticated: false,
    });
    return answer.body as Schemas["UserBody"];
  }

  /** Signs in, answering the account's id (the token's subject). */
  async signIn(email: string, password: string): Promise<string | undefined> {
    await this.load();
    const answer = await this.transport.send({
      method: "POST",
      path: "/api/v1/auth/login",
      body: { email, password },
      authenticated: false,
    });
    await this.keep(answer.body as TokenPair);
    return this.tokens?.subject;
  }

  async isSignedIn(): Promise<boolean> {
    await this.load();
    return this.tokens !== undefined;
  }

  /** The signed-in account's id (the token's subject), if any. */
  async userId(): Promise<string | undefined> {
    await this.load();
    return this.tokens?.subject;
  }

  /** Ends the session here: the server is told when the contract allows it, then every token,
   * view and queued event is forgotten on this device. */
  async signOut(): Promise<void> {
    await this.load();
    const tokens = this.tokens;
    if (tokens && ROUTES.has(LOGOUT_ROUTE)) {
      await this.transport
        .send({ method: "POST", path: "/api/v1/auth/logout", body: { refresh_token: tokens.refresh }, authenticated: true })
        .catch(() => undefined); // offline: the local sign-out still happens
    }
    this.tokens = undefined;
    await this.storage.removeItem(this.key);
    await this.forgetLocal(true);
  }

  async accessToken(): Promise<string | undefined> {
    await this.load();
    const tokens = this.tokens;
    if (tokens && this.now() >= tokens.expiresAt - EXPIRY_MARGIN_MS) {
      await this.refreshOnce(tokens.access);
    }
    return this.tokens?.access;
  }

  async refreshAfterRejection(rejected: string): Promise<boolean> {
    return this.refreshOnce(rejected);
  }

  /** One refresh for everyone who saw `stale` fail; those who come after it just use the result. */
  private async refreshOnce(stale: string): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    if (!this.tokens) return false;
    if (this.tokens.access !== stale) return true;
    const refreshToken = this.tokens.refresh;
    this.refreshing = this.refresh(refreshToken).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(refreshToken: string): Promise<boolean> {
    try {
      const answer = await this.transport.send({
        method: "POST",
        path: "/api/v1/auth/refresh",
        body: { refresh_token: refreshToken },
        authenticated: false,
      });
      await this.keep(answer.body as TokenPair);
      return true;
    } catch (error) {
      if (error instanceof WellbeingError && (error.status === 401 || error.status === 403)) {
        // Refused for good: sign out here, keep the queued events for this account's next sign-in.
        this.tokens = undefined;
        await this.storage.removeItem(this.key);
        await this.forgetLocal(false);
        this.onSignedOut?.("refresh_refused");
        return false;
      }
      throw error; // offline or the server down: the tokens stay, the call fails retryably
    }
  }

  private async keep(pair: TokenPair): Promise<void> {
    this.tokens = {
      access: pair.access_token,
      refresh: pair.refresh_token,
      expiresAt: this.now() + pair.expires_in * 1000,
      subject: subjectOf(pair.access_token),
    };
    await this.storage.setItem(this.key, JSON.stringify(this.tokens));
  }
}

/** The `sub` claim of a JWT, read without verifying it (the server does that). */
function subjectOf(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeBase64(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}

function decodeBase64(text: string): string {
  // atob is in browsers, React Native (Hermes) and Node 16+.
  return atob(text);
}
