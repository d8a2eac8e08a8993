// The session against the live gateway: one refresh for concurrent 401s, a refused refresh
// signing out with `onSignedOut`, and sign-out forgetting everything of the user.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ROUTES } from "../src/generated/routes.js";
import { MemoryStorage, WellbeingClient, WellbeingError } from "../src/index.js";
import { BASE_URL, FetchSpy, signedInClient, utcDate } from "./helpers.js";

interface StoredSession {
  access: string;
  refresh: string;
  expiresAt: number;
  subject: string;
}

async function session(storage: MemoryStorage): Promise<StoredSession> {
  const raw = await storage.getItem("wellbeing:session");
  assert.ok(raw, "a session is stored");
  return JSON.parse(raw) as StoredSession;
}

/** The stored access token replaced by one the server refuses (as after a key rotation). */
async function spoilAccessToken(storage: MemoryStorage): Promise<StoredSession> {
  const stored = await session(storage);
  const spoiled = { ...stored, access: `${stored.access.slice(0, -4)}AAAA` };
  await storage.setItem("wellbeing:session", JSON.stringify(spoiled));
  return spoiled;
}

test("two requests meeting a 401 together cause one refresh, then both succeed", async () => {
  const { storage } = await signedInClient();
  const spoiled = await spoilAccessToken(storage);
  const spy = new FetchSpy();
  const client = new WellbeingClient({ baseUrl: BASE_URL, fetch: spy.fetch, storage, batching: false, autoFlush: false });
  const [dashboard, quick, daily] = await Promise.all([
    client.dashboard(),
    client.quickStats(),
    client.dailySummary(utcDate(0)),
  ]);
  assert.ok(dashboard.today && quick && daily);
  assert.equal(spy.to("/api/v1/auth/refresh").length, 1, "one refresh for three 401s");
  assert.equal(spy.api.filter((sent) => sent.status === 401).length, 3);
  const after = await session(storage);
  assert.notEqual(after.access, spoiled.access);
  assert.notEqual(after.refresh, spoiled.refresh, "the refresh token was rotated");
});

test("a refused refresh signs out and calls onSignedOut once", async () => {
  const { storage } = await signedInClient();
  const stored = await session(storage);
  await storage.setItem(
    "wellbeing:session",
    JSON.stringify({ ...stored, access: `${stored.access.slice(0, -4)}AAAA`, refresh: "revoked-refresh-token" }),
  );
  const reasons: string[] = [];
  const spy = new FetchSpy();
  const client = new WellbeingClient({
    baseUrl: BASE_URL,
    fetch: spy.fetch,
    storage,
    batching: false,
    autoFlush: false,
    onSignedOut: (reason) => reasons.push(reason),
  });
  const reads = await Promise.allSettled([client.dashboard(), client.quickStats()]);
  for (const read of reads) {
    assert.equal(read.status, "rejected");
    const error = (read as PromiseRejectedResult).reason;
    assert.ok(error instanceof WellbeingError && error.code === "signed_out", String(error));
  }
  assert.deepEqual(reasons, ["refresh_refused"]);
  assert.equal(spy.to("/api/v1/auth/refresh").length, 1);
  assert.equal(await client.auth.isSignedIn(), false);
  spy.reset();
  await assert.rejects(client.dashboard(), (error: unknown) => error instanceof WellbeingError && error.code === "signed_out");
  assert.equal(spy.sent.length, 0, "signed out: nothing is sent");
});

test("sign-out forgets tokens, views and queued events on the device", async () => {
  const { client, storage, spy } = await signedInClient();
  const { refresh } = await session(storage);
  await client.dashboard();
  await client.track.break({ duration_minutes: 3 });
  assert.ok(storage.keys().length >= 3);
  spy.reset();
  await client.auth.signOut();
  assert.deepEqual(storage.keys(), [], "nothing of the user is left in storage");
  assert.equal(await client.auth.isSignedIn(), false);
  assert.equal(await client.pendingEvents(), 0);
  assert.equal(await client.cached("/api/v1/analytics/dashboard"), undefined);
  if (ROUTES.has("POST /api/v1/auth/logout")) {
    // The contract has server-side sign-out: the session's refresh token is dead.
    assert.equal(spy.to("/api/v1/auth/logout").length, 1);
    const reuse = await fetch(`${BASE_URL}/api/v1/auth/refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    });
    assert.equal(reuse.status, 401);
  } else {
    assert.equal(spy.sent.length, 0, "no server route to call yet (issue 19)");
  }
  await assert.rejects(client.dashboard(), (error: unknown) => error instanceof WellbeingError && error.code === "signed_out");
});
