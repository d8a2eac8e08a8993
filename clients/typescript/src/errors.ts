// Failures as values a screen can act on: the contract's error body (`{detail, code, field?}`,
// plus `errors[]` for a refused event batch), the HTTP status, and `Retry-After` when the server
// asked the client to wait. A request that never reached the server is `network_unreachable`.
import type { Schemas } from "./types.js";

export type ErrorCode = Schemas["ErrorCode"] | "network_unreachable" | "unexpected_answer" | "signed_out";

export type EventError = Schemas["EventError"];

export class WellbeingError extends Error {
  /** HTTP status; 0 when no answer came (offline, DNS, CORS refused, aborted). */
  readonly status: number;
  readonly code: ErrorCode;
  /** The contract's `detail`: what was wrong, for a person. */
  readonly detail: string;
  /** The field or query parameter at fault, when the server named one. */
  readonly field: string | undefined;
  /** Every invalid event of a refused `/track/batch`. */
  readonly errors: readonly EventError[];
  /** Seconds the server asked to wait (429, 503), when it said. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    code: ErrorCode;
    detail: string;
    field?: string | undefined;
    errors?: readonly EventError[] | undefined;
    retryAfter?: number | undefined;
    cause?: unknown;
  }) {
    super(init.field ? `${init.code} (${init.field}): ${init.detail}` : `${init.code}: ${init.detail}`, {
      cause: init.cause,
    });
    this.name = "WellbeingError";
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.field = init.field;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter;
  }

  /** Whether trying the same request later may succeed (offline, rate-limited, a dependency down). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 503 || this.status >= 500;
  }
}

/** `Retry-After` in seconds (delta form; an HTTP date is turned into the seconds until it). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The error a non-2xx answer stands for, from its status, headers and (JSON) body. */
export function errorFromAnswer(status: number, headers: Headers, body: unknown): WellbeingError {
  const retryAfter = parseRetryAfter(headers.get("retry-after"));
  if (isErrorBody(body)) {
    return new WellbeingError({
      status,
      code: body.code,
      detail: body.detail,
      field: body.field,
      errors: body.errors,
      retryAfter,
    });
  }
  return new WellbeingError({
    status,
    code: "unexpected_answer",
    detail: `the server answered ${status} without the contract's error body`,
    retryAfter,
  });
}

function isErrorBody(body: unknown): body is Schemas["ErrorBody"] {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { code?: unknown }).code === "string" &&
    typeof (body as { detail?: unknown }).detail === "string"
  );
}

export function networkError(cause: unknown): WellbeingError {
  return new WellbeingError({
    status: 0,
    code: "network_unreachable",
    detail: "the server could not be reached",
    cause,
  });
}
