// Reads against the live gateway: dedup, the view cache and its revalidation, batching, prefetch,
// a cold start from storage, and errors as typed values.
import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage, WellbeingClient, WellbeingError } from "../src/index.js";
import { BASE_URL, FetchSpy, signedInClient, utcDate } from "./helpers.js";

test("concurrent identical reads share one request", async () => {
  for (const batching of [true, false]) {
    const { client, spy } = await signedInClient({ batching });
    const answers = await Promise.all(Array.from({ length: 12 }, () => client.dashboard()));
    assert.equal(spy.api.length, 1, `batching ${batching}: ${JSON.stringify(spy.api.map((s) => s.path))}`);
    assert.equal(spy.api[0]?.path, "/api/v1/analytics/dashboard");
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(typeof answers[0]?.today.total_screen_time_minutes, "number");
  }
});

test("a current view is served from the cache; an old one is revalidated and takes the 304", async () => {
  let now = Date.now();
  const { client, spy } = await signedInClient({ batching: false, now: () => now });
  const first = await client.dailySummary(utcDate(1));
  assert.equal(spy.api.length, 1);
  assert.ok(spy.sent.at(-1)?.status === 200);

  await client.dailySummary(utcDate(1));
  assert.equal(spy.api.length, 1, "a current view is not asked for again");

  now += 5 * 60 * 1000 + 1;
  const again = await client.dailySummary(utcDate(1));
  assert.equal(spy.api.length, 2);
  const revalidation = spy.api[1];
  assert.ok(revalidation?.headers["if-none-match"], "the old view is revalidated with its ETag");
  assert.equal(revalidation?.status, 304);
  assert.deepEqual(again, first);

  await client.dailySummary(utcDate(1));
  assert.equal(spy.api.length, 2, "the 304 made the view current again");
});

test("a read after the client's own write revalidates and shows the write", async () => {
  const { client, spy } = await signedInClient({ batching: false });
  const day = utcDate(1);
  const before = await client.dailySummary(day);
  assert.equal(before.total_screen_time_minutes, 0);
  await client.track.screenTime({ app_name: "Reader", duration_minutes: 12, timestamp: `${day}T10:00:00Z` });
  const flushed = await client.flush();
  assert.equal(flushed.accepted, 1);
  spy.reset();
  const after = await client.dailySummary(day);
  assert.equal(spy.sent.length, 1);
  assert.ok(spy.sent[0]?.headers["if-none-match"], "revalidated, not refetched blindly");
  assert.equal(spy.sent[0]?.status, 200, "the write changed the view");
  assert.equal(after.total_screen_time_minutes, 12);
});

test("reads of one tick go as one POST /batch, each caller with its own answer or error", async () => {
  const { client, spy } = await signedInClient();
  const [dashboard, quick, weekly, bad] = await Promise.allSettled([
    client.dashboard(),
    client.quickStats(),
    client.weeklySummary(utcDate(0)),
    client.dailySummary("2026-02-30"),
  ]);
  assert.equal(spy.api.length, 1);
  assert.equal(spy.api[0]?.path, "/api/v1/batch");
  assert.equal((spy.api[0]?.body as { requests: unknown[] }).requests.length, 4);
  assert.equal(dashboard.status, "fulfilled");
  assert.equal(quick.status, "fulfilled");
  assert.equal(weekly.status === "fulfilled" && weekly.value.daily_summaries.length, 7);
  assert.equal(bad.status, "rejected");
  const error = (bad as PromiseRejectedResult).reason;
  assert.ok(error instanceof WellbeingError);
  assert.equal(error.status, 422);
  assert.equal(error.code, "validation_failed");
  assert.equal(error.field, "date");
  assert.ok(error.detail.length > 0);

  // More reads than the server takes in one batch: split at its limit (20).
  spy.reset();
  const days = Array.from({ length: 25 }, (_, index) => client.dailySummary(utcDate(index + 2)));
  const summaries = await Promise.all(days);
  assert.deepEqual(
    spy.api.map((sent) => (sent.body as { requests: unknown[] }).requests.length),
    [20, 5],
  );
  assert.deepEqual(
    summaries.map((summary) => summary.date),
    Array.from({ length: 25 }, (_, index) => utcDate(index + 2)),
  );
});

test("prefetch warms the cache and never throws", async () => {
  const { client, spy } = await signedInClient();
  await client.prefetch([
    { path: "/api/v1/analytics/dashboard" },
    { path: "/api/v1/analytics/summary/weekly", query: { end_date: utcDate(0) } },
    { path: "/api/v1/analytics/summary/daily", query: { date: "not-a-date" } },
  ]);
  assert.equal(spy.api.length, 1);
  await client.dashboard();
  await client.weeklySummary(utcDate(0));
  assert.equal(spy.api.length, 1, "prefetched views are served from the cache");

  const offline = new WellbeingClient({ baseUrl: "http://127.0.0.1:9", fetch: spy.fetch });
  await offline.prefetch([{ path: "/api/v1/analytics/dashboard" }]); // not signed in, unreachable: no throw
});

test("a cold start shows the last known numbers from storage, then refreshes them", async () => {
  const storage = new MemoryStorage();
  const { client } = await signedInClient({ storage, batching: false });
  const day = utcDate(1);
  await client.track.screenTime({ app_name: "Cold", duration_minutes: 7, timestamp: `${day}T09:00:00Z` });
  await client.flush();
  const shown = await client.dailySummary(day);
  client.close();

  // The app comes back an hour later: its access token has expired meanwhile.
  const later = Date.now() + 60 * 60 * 1000;
  const spy = new FetchSpy();
  const restarted = new WellbeingClient({ baseUrl: BASE_URL, fetch: spy.fetch, storage, now: () => later, batching: false });
  const kept = await restarted.cached("/api/v1/analytics/summary/daily", { date: day });
  assert.ok(kept, "the last answer survived the restart");
  assert.equal(kept.current, false);
  assert.deepEqual(kept.data, shown);
  assert.equal(spy.sent.length, 0, "shown without asking the server");
  const fresh = await restarted.dailySummary(day);
  assert.deepEqual(
    spy.sent.map((sent) => [sent.method, sent.path, sent.status]),
    [
      ["POST", "/api/v1/auth/refresh", 200],
      ["GET", `/api/v1/analytics/summary/daily?date=${day}`, 304],
    ],
  );
  assert.equal(fresh.total_screen_time_minutes, 7);
});

test("errors are typed values with the contract's code, field and detail", async () => {
  const { client } = await signedInClient();
  await assert.rejects(
    client.goals.create({ goal_type: "yoga" as never, target_value: 1 }),
    (error: unknown) =>
      error instanceof WellbeingError &&
      error.status === 422 &&
      error.code === "validation_failed" &&
      error.field === "goal_type",
  );
  const unreachable = new WellbeingClient({ baseUrl: "http://127.0.0.1:9" });
  await assert.rejects(
    unreachable.auth.signIn("nobody@example.com", "not a password"),
    (error: unknown) => error instanceof WellbeingError && error.code === "network_unreachable" && error.status === 0,
  );
});
