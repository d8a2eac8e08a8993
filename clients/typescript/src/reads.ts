// Reads of derived views: one request for concurrent identical reads, the view store first,
// revalidation with `If-None-Match`, and the reads of one tick sent together as `POST /batch`.
//
// A view with an `ETag` is revalidated alone: `/batch` carries no request headers, so it
// cannot take a 304, and a 304 is a few bytes. Views never seen (or seen only through a batch,
// which answers no `ETag`) go through the batch.
import { WellbeingError, errorFromAnswer } from "./errors.js";
import { BATCH_MAX_REQUESTS } from "./generated/routes.js";
import type { Transport } from "./transport.js";
import type { ViewStore } from "./views.js";

export interface ReadOptions {
  /** Ask the server even when the kept view is current (pull to refresh). */
  revalidate?: boolean;
}

interface Waiting {
  path: string;
  resolve: (data: unknown) => void;
  reject: (error: unknown) => void;
}

export class Reader {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private waiting: Waiting[] = [];
  private scheduled = false;
  /** Requests sent to the server by reads (dedup and cache effects show here). */
  requestsSent = 0;

  constructor(
    private readonly transport: Transport,
    private readonly views: ViewStore | undefined,
    private readonly batching: boolean,
  ) {}

  /** `path`'s `data`, from the kept view when current, else from the server. */
  read(path: string, options: ReadOptions = {}): Promise<unknown> {
    const key = options.revalidate ? `${path}#revalidate` : path;
    const running = this.inFlight.get(key);
    if (running) return running;
    const reading = this.resolve(path, options).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, reading);
    return reading;
  }

  private async resolve(path: string, options: ReadOptions): Promise<unknown> {
    const kept = await this.views?.get(path);
    if (kept && !options.revalidate && this.views?.isCurrent(kept)) return kept.data;
    if (kept?.etag !== undefined) {
      this.requestsSent += 1;
      const answer = await this.transport.send({
        method: "GET",
        path,
        headers: { "if-none-match": kept.etag },
        authenticated: true,
      });
      if (answer.status === 304) {
        await this.views?.confirm(path);
        return kept.data;
      }
      return this.keep(path, answer.body, answer.headers.get("etag") ?? undefined);
    }
    if (!this.batching) return this.single(path);
    return new Promise((resolve, reject) => {
      this.waiting.push({ path, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // A macrotask, not a microtask: reads started together pass through their own awaits
        // (the view store) before they reach this point.
        setTimeout(() => this.sendWaiting(), 0);
      }
    });
  }

  private async single(path: string): Promise<unknown> {
    this.requestsSent += 1;
    const answer = await this.transport.send({ method: "GET", path, authenticated: true });
    return this.keep(path, answer.body, answer.headers.get("etag") ?? undefined);
  }

  private async keep(path: string, body: unknown, etag: string | undefined): Promise<unknown> {
    const data = dataOf(body);
    await this.views?.put(path, data, etag);
    return data;
  }

  private sendWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    for (let start = 0; start < waiting.length; start += BATCH_MAX_REQUESTS) {
      const group = waiting.slice(start, start + BATCH_MAX_REQUESTS);
      const sending =
        group.length === 1 && group[0] ? this.sendAlone(group[0]) : this.sendBatch(group);
      void sending;
    }
  }

  private async sendAlone(one: Waiting): Promise<void> {
    try {
      one.resolve(await this.single(one.path));
    } catch (error) {
      one.reject(error);
    }
  }

  /** One `POST /batch`; each caller gets its own answer or error. */
  private async sendBatch(group: Waiting[]): Promise<void> {
    this.requestsSent += 1;
    let answers: { status: number; body: unknown }[];
    try {
      const answer = await this.transport.send({
        method: "POST",
        path: "/api/v1/batch",
        body: { requests: group.map(({ path }) => ({ method: "GET", path })) },
        authenticated: true,
      });
      answers = (dataOf(answer.body) as { responses: { status: number; body: unknown }[] }).responses;
    } catch (error) {
      for (const one of group) one.reject(error);
      return;
    }
    await Promise.all(
      group.map(async (one, index) => {
        const answer = answers[index];
        if (!answer) {
          one.reject(
            new WellbeingError({ status: 0, code: "unexpected_answer", detail: "the batch answered fewer results than asked" }),
          );
        } else if (answer.status >= 200 && answer.status < 300) {
          try {
            one.resolve(await this.keep(one.path, answer.body, undefined));
          } catch (error) {
            one.reject(error);
          }
        } else {
          one.reject(errorFromAnswer(answer.status, new Headers(), answer.body));
        }
      }),
    );
  }
}

/** The envelope's `data`; a bare body (`/auth/*`) as it is. */
function dataOf(body: unknown): unknown {
  if (typeof body === "object" && body !== null && "data" in body && "status" in body) {
    return (body as { data: unknown }).data;
  }
  return body;
}
