// The offline queue against the live gateway: events tracked with the gateway stopped survive an
// app restart, are stored exactly once when it is back (even when an answer is lost and the
// chunk is sent again), flush in chunks of at most 1000, and invalid ones are dropped alone.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { MemoryStorage, type QueuedEvent, WellbeingClient, WellbeingError } from "../src/index.js";
import { OwnGateway } from "./gateway.js";
import { BASE_URL, FetchSpy, newAccount, signedInClient, utcDate } from "./helpers.js";

const gateway = OwnGateway.fromEnv();
after(() => gateway?.stop());

test("events tracked offline survive a restart and are stored exactly once", async () => {
  // With its own gateway the test stops the real thing; without, the spy plays offline.
  if (gateway) await gateway.start();
  const baseUrl = gateway?.url ?? BASE_URL;
  const storage = new MemoryStorage();
  const spy = new FetchSpy();
  const account = await newAccount();
  const phone = new WellbeingClient({ baseUrl, fetch: spy.fetch, storage, autoFlush: false });
  await phone.auth.signIn(account.email, account.password);

  if (gateway) await gateway.stop();
  else spy.down = true;
  const day = utcDate(1);
  let expectedMinutes = 0;
  for (let index = 0; index < 30; index += 1) {
    const minutes = (index % 5) + 0.5;
    expectedMinutes += minutes;
    const start = new Date(Date.parse(`${day}T06:00:00Z`) + index * 20 * 60_000).toISOString();
    await phone.track.screenTime({ app_name: `App ${index % 3}`, duration_minutes: minutes, timestamp: start });
  }
  await phone.track.notification({ app_name: "App 0", priority: 3, timestamp: `${day}T12:00:00Z` });
  const offline = await phone.flush();
  assert.equal(offline.error?.code, "network_unreachable");
  assert.equal(offline.remaining, 31);
  phone.close(); // the app is killed while offline

  if (gateway) await gateway.start();
  else spy.down = false;
  // The restarted app sends, the server stores, and the answer is lost on the way back.
  let loseNextAnswer = true;
  const lossy = async (input: string, init?: RequestInit): Promise<Response> => {
    const response = await spy.fetch(input, init);
    if (loseNextAnswer && input.endsWith("/track/batch")) {
      loseNextAnswer = false;
      throw new TypeError("connection reset (simulated)");
    }
    return response;
  };
  const restarted = new WellbeingClient({ baseUrl, fetch: lossy, storage, autoFlush: false, batching: false });
  assert.equal(await restarted.pendingEvents(), 31, "the queue survived the restart");
  const lost = await restarted.flush();
  assert.equal(lost.error?.code, "network_unreachable");
  assert.equal(lost.remaining, 31, "unconfirmed events stay queued");
  const resent = await restarted.flush();
  assert.deepEqual(
    { accepted: resent.accepted, duplicates: resent.duplicates, remaining: resent.remaining },
    { accepted: 0, duplicates: 31, remaining: 0 },
    "the re-sent chunk is recognised by its event ids",
  );

  const summary = await restarted.dailySummary(day);
  assert.equal(summary.total_screen_time_minutes, expectedMinutes);
  assert.equal(summary.notifications_received, 1);
  const perApp = Object.fromEntries(summary.top_apps.map((app) => [app.app_name, app.minutes]));
  assert.deepEqual(Object.keys(perApp).sort(), ["App 0", "App 1", "App 2"]);
  const sentIds = spy
    .to("/api/v1/analytics/track/batch", "POST")
    .flatMap((sent) => (sent.body as { events: QueuedEvent[] }).events.map((event) => event.event_id));
  assert.equal(new Set(sentIds).size, 31, "every event kept one id across every attempt");
  restarted.close();
});

test("a flush sends at most 1000 events a request", async () => {
  const { client, spy } = await signedInClient();
  const day = utcDate(2);
  for (let index = 0; index < 1001; index += 1) {
    const start = new Date(Date.parse(`${day}T00:00:00Z`) + index * 60_000).toISOString();
    await client.track.break({ duration_minutes: 0.5, timestamp: start });
  }
  const result = await client.flush();
  assert.equal(result.accepted, 1001);
  assert.deepEqual(
    spy.to("/api/v1/analytics/track/batch").map((sent) => (sent.body as { events: unknown[] }).events.length),
    [1000, 1],
  );
  const summary = await client.dailySummary(day);
  assert.equal(summary.breaks_count, 1001);
  assert.equal(summary.total_break_time_minutes, 500.5);
});

test("an invalid event is dropped alone and reported; the others are stored", async () => {
  const rejected: QueuedEvent[] = [];
  const { client } = await signedInClient({ onEventsRejected: (events) => rejected.push(...events) });
  const day = utcDate(1);
  await client.track.break({ duration_minutes: 5, timestamp: `${day}T08:00:00Z` });
  const future = new Date(Date.now() + 2 * 86_400_000).toISOString();
  const badId = await client.track.distraction({ source: "phone", severity: 2, timestamp: future });
  await client.track.break({ duration_minutes: 6, timestamp: `${day}T09:00:00Z` });
  const result = await client.flush();
  assert.deepEqual(
    { accepted: result.accepted, rejected: result.rejected, remaining: result.remaining },
    { accepted: 2, rejected: 1, remaining: 0 },
  );
  assert.deepEqual(
    rejected.map((event) => event.event_id),
    [badId],
  );
  assert.equal((await client.dailySummary(day)).total_break_time_minutes, 11);
});

test("a refused flush waits as long as Retry-After says", async () => {
  const storage = new MemoryStorage();
  await storage.setItem(
    "wellbeing:session",
    JSON.stringify({ access: "a.b.c", refresh: "r", expiresAt: Date.now() + 600_000, subject: "u" }),
  );
  const unavailable = async (): Promise<Response> =>
    new Response(JSON.stringify({ detail: "analytics is down", code: "unavailable" }), {
      status: 503,
      headers: { "content-type": "application/json", "retry-after": "7" },
    });
  const client = new WellbeingClient({ baseUrl: "http://127.0.0.1:9", fetch: unavailable, storage, autoFlush: true });
  await client.track.break({ duration_minutes: 1 });
  const result = await client.flush();
  client.close();
  assert.ok(result.error instanceof WellbeingError);
  assert.equal(result.error.code, "unavailable");
  assert.equal(result.error.retryAfter, 7);
  assert.equal(result.retryInMs, 7000);
  assert.equal(result.remaining, 1);
});
