// Names for the generated contract types (src/generated/api.ts, written by openapi-typescript
// from clients/openapi.json at build time): nothing here restates a shape by hand.
import type { components, paths } from "./generated/api.js";

export type { components, paths };
export type Schemas = components["schemas"];

type JsonBody<Answer> = Answer extends { content: { "application/json": infer Body } } ? Body : never;

/** The paths that answer GET. */
export type GetPath = { [P in keyof paths]: paths[P] extends { get: object } ? P : never }[keyof paths];

/** The 200 body of `GET path`. */
export type GetBody<P extends GetPath> = paths[P] extends { get: { responses: { 200: infer Answer } } }
  ? JsonBody<Answer>
  : never;

/** What a read gives the app: the envelope's `data`, or the bare body of `/auth/*`. */
export type GetData<P extends GetPath> = GetBody<P> extends { data: infer Data } ? Data : GetBody<P>;

/** The query parameters of `GET path`. */
export type GetQuery<P extends GetPath> = paths[P] extends { get: { parameters: { query?: infer Query } } }
  ? Omit<NonNullable<Query>, "user_id">
  : never;

export type DailySummary = Schemas["DailySummary"];
export type WeeklySummary = Schemas["WeeklySummary"];
export type Dashboard = Schemas["Dashboard"];
export type QuickStats = Schemas["QuickStats"];
export type TokenPair = Schemas["TokenPair"];
export type User = Schemas["UserBody"];
export type Goal = Schemas["Goal"];
export type BatchOutcome = Schemas["BatchOutcome"];

/** The body of `POST /analytics/track/<type>` for each event type. */
export interface EventBodies {
  session: Schemas["SessionBody"];
  "screen-time": Schemas["ScreenTimeBody"];
  "focus-session": Schemas["FocusSessionBody"];
  break: Schemas["BreakBody"];
  notification: Schemas["NotificationBody"];
  distraction: Schemas["DistractionBody"];
}
export type EventType = keyof EventBodies;
