// Runs in headless Chromium, served from another origin than the gateway's: the built SDK
// (dist/) against the live gateway through CORS. Reports its checks to the page's own server.
import { WellbeingClient, WellbeingError } from "/dist/index.js";

const gateway = new URL(location.href).searchParams.get("gateway");
const checks = [];
const check = (name, ok, detail = "") => checks.push({ name, ok: Boolean(ok), detail: String(detail) });

async function run() {
  const email = `browser-${crypto.randomUUID()}@example.com`;
  const password = `pw-${crypto.randomUUID()}`;
  const sent = [];
  const spy = async (input, init) => {
    const response = await fetch(input, init);
    sent.push({ path: new URL(input).pathname, status: response.status });
    return response;
  };
  const client = new WellbeingClient({ baseUrl: gateway, fetch: spy, storage: localStorageAdapter(), autoFlush: false });
  await client.auth.register({ username: "browser", email, password });
  await client.auth.signIn(email, password);
  check("signed in across origins", await client.auth.isSignedIn());

  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await client.track.screenTime({ app_name: "Browser", duration_minutes: 9, timestamp: `${day}T10:00:00Z` });
  await client.track.break({ duration_minutes: 4, timestamp: `${day}T11:00:00Z` });
  const flushed = await client.flush();
  check("tracked events stored", flushed.accepted === 2 && flushed.remaining === 0, JSON.stringify(flushed));

  sent.length = 0;
  const [summary, dashboard, bad] = await Promise.allSettled([
    client.dailySummary(day),
    client.dashboard(),
    client.dailySummary("2026-02-30"),
  ]);
  check("reads of a tick batched", sent.length === 1 && sent[0].path === "/api/v1/batch", JSON.stringify(sent));
  check("totals read", summary.status === "fulfilled" && summary.value.total_screen_time_minutes === 9);
  check("dashboard read", dashboard.status === "fulfilled" && typeof dashboard.value.today === "object");
  check(
    "an error is a typed value",
    bad.status === "rejected" && bad.reason instanceof WellbeingError && bad.reason.field === "date",
    bad.reason,
  );

  // ETag must be exposed to the page for revalidation to work.
  const single = new WellbeingClient({ baseUrl: gateway, fetch: spy, storage: localStorageAdapter(), batching: false, autoFlush: false });
  await single.auth.signIn(email, password);
  await single.weeklySummary(day);
  sent.length = 0;
  await single.weeklySummary(day); // current: from the cache
  await single.read("/api/v1/analytics/summary/weekly", { end_date: day }, { revalidate: true });
  check("revalidated with a 304 through CORS", sent.length === 1 && sent[0].status === 304, JSON.stringify(sent));

  await single.auth.signOut();
  check("signed out", !(await single.auth.isSignedIn()));
}

/** localStorage behind the AsyncStorage-shaped adapter. */
function localStorageAdapter() {
  return {
    getItem: async (key) => localStorage.getItem(key),
    setItem: async (key, value) => localStorage.setItem(key, value),
    removeItem: async (key) => localStorage.removeItem(key),
  };
}

run()
  .catch((error) => check("ran to the end", false, error?.stack ?? error))
  .finally(() => fetch("/result", { method: "POST", body: JSON.stringify(checks) }));
