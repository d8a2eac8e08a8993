// The scripted session of docs/PERFORMANCE.md, with and without the SDK's cache and batching:
// the app opens (a previous session 6 minutes earlier left its views in storage), shows home,
// the user records 30 minutes of usage offline, the phone reconnects and the week view opens.
// Counts the requests sent, the bytes they carried (bodies and header lines, as the client saw
// them, before compression) and the times. Run against a live gateway: WELLBEING_URL (default
// http://127.0.0.1:8080), MEASURE_RUNS (default 5; the median is reported).
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";

import { type ClientOptions, MemoryStorage, WellbeingClient } from "../src/index.js";

const BASE_URL = (process.env.WELLBEING_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const RUNS = Number(process.env.MEASURE_RUNS ?? "5");

const MODES: Record<string, Partial<ClientOptions>> = {
  "SDK (cache + batching)": {},
  "SDK without cache and batching": { cacheLifeMs: 0, batching: false, flushChunkSize: 1 },
};

class Counter {
  requests = 0;
  bytes = 0;
  offline = false;

  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    if (this.offline) throw new TypeError("offline");
    this.requests += 1;
    const headers = Object.entries((init?.headers ?? {}) as Record<string, string>);
    this.bytes += lineBytes(`${init?.method ?? "GET"} ${new URL(input).pathname}${new URL(input).search} HTTP/1.1`);
    for (const [name, value] of headers) this.bytes += lineBytes(`${name}: ${value}`);
    this.bytes += typeof init?.body === "string" ? Buffer.byteLength(init.body) : 0;
    const response = await fetch(input, init);
    const body = await response.arrayBuffer();
    this.bytes += lineBytes(`HTTP/1.1 ${response.status}`) + body.byteLength;
    response.headers.forEach((value, name) => {
      this.bytes += lineBytes(`${name}: ${value}`);
    });
    return new Response(response.status === 304 ? null : body, { status: response.status, headers: response.headers });
  };
}

const lineBytes = (line: string) => Buffer.byteLength(line) + 2;

const home = (client: WellbeingClient) =>
  Promise.all([client.dashboard(), client.quickStats(), client.dailySummary(), client.goals.list()]);
const week = (client: WellbeingClient) =>
  Promise.all([client.weeklySummary(), client.appsUsage(7), client.wellbeingScore()]);

/** An account with a week of history (sent directly, not counted). */
async function seededAccount(): Promise<{ email: string; password: string }> {
  const account = { email: `measure-${randomUUID()}@example.com`, password: `pw-${randomUUID()}` };
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${BASE_URL}/api/v1${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  await post("/auth/register", { username: "measure", ...account });
  const { access_token } = (await (await post("/auth/login", account)).json()) as { access_token: string };
  const events = Array.from({ length: 140 }, (_, index) => ({
    type: "screen-time",
    app_name: `App ${index % 7}`,
    duration_minutes: 5 + (index % 11),
    timestamp: new Date(Date.now() - (index + 2) * 70 * 60_000).toISOString(),
  }));
  const seeded = await post("/analytics/track/batch", { events }, access_token);
  if (!seeded.ok) throw new Error(`seeding answered ${seeded.status}`);
  return account;
}

interface Figures {
  requests: number;
  bytes: number;
  firstScreenMs: number;
  currentHomeMs: number;
  weekViewMs: number;
}

async function session(options: Partial<ClientOptions>): Promise<Figures> {
  const account = await seededAccount();
  const storage = new MemoryStorage();
  const previous = new WellbeingClient({ baseUrl: BASE_URL, storage, autoFlush: false, ...options });
  await previous.auth.signIn(account.email, account.password);
  await home(previous);
  previous.close();

  const counter = new Counter();
  const later = () => Date.now() + 6 * 60_000;
  const app = new WellbeingClient({ baseUrl: BASE_URL, fetch: counter.fetch, storage, now: later, autoFlush: false, ...options });
  const opened = performance.now();
  const kept = await Promise.all([
    app.cached("/api/v1/analytics/dashboard"),
    app.cached("/api/v1/analytics/quick-stats"),
    app.cached("/api/v1/analytics/summary/daily"),
    app.cached("/api/v1/analytics/goals"),
  ]);
  const fromStorage = kept.every((view) => view !== undefined);
  const shownKept = performance.now();
  await home(app);
  const current = performance.now();

  counter.offline = true;
  const end = Date.now(); // the server's clock: the 6 minutes above only age the kept views
  for (let minute = 0; minute < 30; minute += 1) {
    await app.track.screenTime({
      app_name: `App ${minute % 4}`,
      duration_minutes: 1,
      timestamp: new Date(end - (30 - minute) * 60_000).toISOString(),
    });
  }
  counter.offline = false;
  const reconnected = performance.now();
  const flushed = await app.flush();
  if (flushed.accepted !== 30 || flushed.remaining !== 0) throw new Error(`flush: ${JSON.stringify(flushed)}`);
  await week(app);
  const weekShown = performance.now();
  app.close();
  return {
    requests: counter.requests,
    bytes: counter.bytes,
    firstScreenMs: (fromStorage ? shownKept : current) - opened,
    currentHomeMs: current - opened,
    weekViewMs: weekShown - reconnected,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

console.log(`| client | requests | bytes | first screen (ms) | home current (ms) | reconnect to week view (ms) |`);
console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
for (const [name, options] of Object.entries(MODES)) {
  const runs: Figures[] = [];
  for (let run = 0; run < RUNS; run += 1) runs.push(await session(options));
  const pick = (key: keyof Figures) => median(runs.map((figures) => figures[key]));
  console.log(
    `| ${name} | ${pick("requests")} | ${pick("bytes")} | ${pick("firstScreenMs").toFixed(1)} | ` +
      `${pick("currentHomeMs").toFixed(1)} | ${pick("weekViewMs").toFixed(1)} |`,
  );
}
