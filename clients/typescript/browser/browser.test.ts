// Drives the built SDK from a page in headless Chromium against the live gateway with CORS: the
// page is served from a loopback port of its own (another origin), which the gateway must list
// in CORS_ALLOWED_ORIGINS. `WELLBEING_WEB_PORT` is that port, `CHROMIUM` the browser (chromium).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const gateway = (process.env.WELLBEING_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const webPort = Number(process.env.WELLBEING_WEB_PORT ?? "8081");
const chromium = process.env.CHROMIUM ?? "chromium";
const packageDir = fileURLToPath(new URL("../..", import.meta.url));
const RESULT_TIMEOUT_MS = 60_000;

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

test("the SDK works from a page of another origin through CORS", async () => {
  let report: (checks: Check[]) => void = () => undefined;
  const reported = new Promise<Check[]>((resolve) => {
    report = resolve;
  });
  const server = createServer((request, response) => void serve(request, response, report));
  server.listen(webPort, "127.0.0.1");
  await once(server, "listening");
  const profile = await mkdtemp(join(tmpdir(), "wellbeing-chromium-"));
  const browser = spawn(
    chromium,
    [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      `--user-data-dir=${profile}`,
      `http://127.0.0.1:${webPort}/?gateway=${encodeURIComponent(gateway)}`,
    ],
    // Its own process group, so that the renderer and helper processes stop with it.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let browserLog = "";
  browser.stderr?.on("data", (chunk: Buffer) => {
    browserLog = (browserLog + chunk.toString()).slice(-4000);
  });
  const exited = once(browser, "exit");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const checks = await Promise.race([
      reported,
      exited.then(() => Promise.reject(new Error(`chromium exited before the page reported:\n${browserLog}`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no report from the page:\n${browserLog}`)), RESULT_TIMEOUT_MS);
      }),
    ]);
    assert.ok(checks.length >= 8, JSON.stringify(checks));
    for (const check of checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);
  } finally {
    clearTimeout(timer);
    if (browser.exitCode === null && browser.pid !== undefined) {
      process.kill(-browser.pid, "SIGTERM");
      await exited;
    }
    server.close();
    // Helper processes may still be closing files in the profile for a moment.
    await rm(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
});

const TYPES: Record<string, string> = { ".js": "text/javascript", ".map": "application/json", ".html": "text/html" };

async function serve(request: IncomingMessage, response: ServerResponse, report: (checks: Check[]) => void) {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (request.method === "POST" && path === "/result") {
    let body = "";
    for await (const chunk of request) body += chunk;
    response.end();
    report(JSON.parse(body) as Check[]);
    return;
  }
  const file =
    path === "/"
      ? null
      : path === "/page.js"
        ? join(packageDir, "browser", "page.js")
        : path.startsWith("/dist/")
          ? join(packageDir, normalize(path).replace(/^(\.\.[/\\])+/, ""))
          : undefined;
  if (file === null) {
    response.writeHead(200, { "content-type": "text/html" });
    response.end('<!doctype html><title>wellbeing SDK</title><script type="module" src="/page.js"></script>');
    return;
  }
  try {
    if (file === undefined) throw new Error("not served");
    const content = await readFile(file);
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    response.end(content);
  } catch {
    response.writeHead(404);
    response.end();
  }
}
