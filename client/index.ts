/**
 * The package's `order-service/client` entry: the type of the HTTP API for Eden treaty
 * (`treaty<App>(url)`). Built into dist/client/index.d.ts by `bun run build:client`; that file must
 * name nothing of the server but Elysia's and TypeBox's types (scripts/build-client.ts checks).
 */
import { type AppDeps, createApp } from "../src/app.ts";

// Never called, and no JavaScript is shipped. Its return type is inferred, so the declaration
// emitter writes the app's Elysia type out in full (routes, bodies, answers) instead of naming
// src/app.ts and, through `AppDeps`, every port, record and setting of the server. No parameter:
// TypeScript 5's `ReturnType` of a function taking `never` is `any`.
const app = () => createApp({} as AppDeps);

/** The order service's HTTP API, for `treaty<App>("http://host:port")` from `@elysiajs/eden`. */
export type App = ReturnType<typeof app>;
