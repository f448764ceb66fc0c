/**
 * Listening and stopping: binds the port without sharing it, answers whatever escapes Elysia with
 * the error envelope, and on shutdown lets requests in flight finish for a bounded time.
 */
import type { AnyElysia } from "elysia";
import { type Config, StartupError } from "../config.ts";
import { toAppError, toErrorBody } from "../kit/error-envelope.ts";
import { MAX_BODY_BYTES } from "../kit/json-body.ts";
import type { Logger } from "../kit/logger.ts";

/** Listening and stopping `app` (any Elysia app: the HTTP shell imports nothing above it) as `config` says. */
export function httpServer(app: AnyElysia, config: Config, log: Logger) {
  return {
    /** Binds the port, never sharing it: a second service on the same port is refused, not merged. */
    listen(): URL {
      try {
        app.listen({
          hostname: config.host,
          port: config.port,
          maxRequestBodySize: MAX_BODY_BYTES * 2,
          reusePort: false,
          // Seconds a connection may stay silent (Elysia's default, said here): an idle or stalled
          // client cannot hold a connection longer. A body that trickles in is cut by BODY_TIMEOUT_MS.
          idleTimeout: 30,
          // The last line of defence: whatever escapes Elysia gets the envelope, never Bun's error
          // page (which shows source lines and paths).
          error: (error) => {
            const requestId = crypto.randomUUID();
            const body = toErrorBody(toAppError(error, log, requestId));
            return Response.json(body, {
              status: 500,
              headers: {
                "x-request-id": requestId,
                "x-content-type-options": "nosniff",
                "cache-control": "no-store",
              },
            });
          },
        });
      } catch (error) {
        const code = (error as { code?: string }).code;
        const reason = code === "EADDRINUSE" ? "is already in use" : `cannot be used (${String(error)})`;
        throw new StartupError("PORT", `port ${config.port} on ${config.host} ${reason}`);
      }
      return new URL(`http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${app.server?.port}`);
    },

    /**
     * Stops accepting and lets requests in flight finish, but for at most `timeoutMs`: then every
     * connection still open is closed (a client holding an unfinished body would otherwise keep the
     * process alive past the supervisor's grace period).
     */
    async stop(timeoutMs: number): Promise<void> {
      const server = app.server;
      if (!server) return;
      const drained = await Promise.race([
        server.stop().then(() => true),
        Bun.sleep(timeoutMs).then(() => false),
      ]);
      if (!drained) {
        log("warn", "connections still open at the shutdown deadline; closing them", {
          connections: server.pendingRequests,
        });
        await server.stop(true);
      }
    },
  };
}
