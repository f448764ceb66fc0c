/**
 * The operator's commands on the queue, `retry-failed` and `redeliver-dead` (issue 23), as real CLI
 * processes against a real service process, on SQLite and on PostgreSQL (TEST_DATABASE_URL): they
 * go through the service's HTTP API (ORDER_SERVICE_URL, API_KEY). Orders fail with
 * PROCESSING_FAILURE_RATE=1 and MAX_ATTEMPTS=1, then a service without failures takes over; dead
 * deliveries come from a local receiver answering 500 with WEBHOOK_MAX_ATTEMPTS=1, then 200.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  type ChildService,
  call,
  cleanup,
  cli,
  freshPostgresDatabase,
  order,
  spawnService,
  startupError,
  tempDir,
  waitFor,
} from "./helpers.ts";

afterEach(cleanup);

const ADAPTERS: [string, () => Promise<Record<string, string>>][] = [
  ["SQLite", async () => ({ DATABASE_PATH: join(tempDir(), "orders.db") })],
  ...(process.env.TEST_DATABASE_URL
    ? [["PostgreSQL", async () => ({ DATABASE_URL: await freshPostgresDatabase() })] as const]
    : []),
] as [string, () => Promise<Record<string, string>>][];

/** Runs the CLI against `service`. */
const against = (service: ChildService, args: string[], env: Record<string, string> = {}) =>
  cli(args, { ORDER_SERVICE_URL: service.url.href, ...env });

/** The status of order `id`. */
const statusOf = async (service: ChildService, id: string) =>
  (await call(service.url, "GET", `/orders/${id}/status`)).body.status as string;

describe.each(ADAPTERS)("on %s", (_name, database) => {
  test("retry-failed retries the failed orders of a user, of a time, then all; each line says which", async () => {
    const db = await database();
    const failing = await spawnService({ ...db, PROCESSING_FAILURE_RATE: "1", MAX_ATTEMPTS: "1" });
    for (const [id, user] of [
      ["a1", "alice"],
      ["a2", "alice"],
      ["b1", "bob"],
    ] as const)
      expect((await call(failing.url, "POST", "/orders", order(id, { user_id: user }))).status).toBe(201);
    for (const id of ["a1", "a2", "b1"])
      await waitFor(async () => (await statusOf(failing, id)) === "failed");
    failing.proc.kill("SIGTERM");
    expect(await failing.proc.exited).toBe(0);
    const service = await spawnService({ ...db, PROCESSING_TIME_MS: "0" });

    const alice = await against(service, ["retry-failed", "--user", "alice"]);
    expect(alice.stderr).toBe("");
    expect(alice.code).toBe(0);
    expect(alice.stdout.split("\n")).toEqual([
      expect.stringMatching(/^retried a1 \(user alice, last error: .+\)$/),
      expect.stringMatching(/^retried a2 \(user alice, last error: .+\)$/),
      "retried 2 failed orders, skipped 0",
      "",
    ]);
    for (const id of ["a1", "a2"]) await waitFor(async () => (await statusOf(service, id)) === "completed");
    expect(await statusOf(service, "b1")).toBe("failed");

    // Failed before the time given: left alone.
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await against(service, ["retry-failed", "--since", later])).stdout).toBe(
      "retried 0 failed orders, skipped 0\n",
    );
    const all = await against(service, ["retry-failed", "--since", "1h"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^retried b1 \(user bob, .+\)\nretried 1 failed order, skipped 0\n$/);
    await waitFor(async () => (await statusOf(service, "b1")) === "completed");
  });

  test("redeliver-dead sends the dead deliveries again, of one webhook or of all", async () => {
    let up = false;
    const receiver = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(up ? "ok" : "down", { status: up ? 200 : 500 }),
    });
    const hook = `http://127.0.0.1:${receiver.port}/hook`;
    const service = await spawnService({
      ...(await database()),
      WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
      WEBHOOK_MAX_ATTEMPTS: "1",
    });
    const subscribe = async () =>
      (await call(service.url, "POST", "/webhooks", { url: hook, event_types: ["created"] })).body
        .id as string;
    const [first, second] = [await subscribe(), await subscribe()];
    for (const id of ["w1", "w2"]) await call(service.url, "POST", "/orders", order(id));
    const deliveries = async (webhook: string, status: string) =>
      (await call(service.url, "GET", `/webhooks/${webhook}/deliveries?status=${status}`)).body.deliveries
        .length as number;
    for (const webhook of [first, second])
      await waitFor(async () => (await deliveries(webhook, "dead")) === 2);

    up = true;
    const one = await against(service, ["redeliver-dead", "--webhook", first]);
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    const lines = one.stdout.split("\n");
    expect(lines.slice(0, 2)).toEqual([
      expect.stringMatching(
        new RegExp(`^redelivered ${first} delivery \\d+ \\(event \\d+, last error: HTTP 500\\)$`),
      ),
      expect.stringMatching(new RegExp(`^redelivered ${first} delivery \\d+ `)),
    ]);
    expect(lines.slice(2)).toEqual([`redelivered 2 dead deliveries of webhook ${first}`, ""]);
    await waitFor(async () => (await deliveries(first, "delivered")) === 2);
    expect(await deliveries(second, "dead")).toBe(2);

    const all = await against(service, ["redeliver-dead"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toEndWith("redelivered 2 dead deliveries of 2 webhooks\n");
    await waitFor(async () => (await deliveries(second, "delivered")) === 2);

    const unknown = await against(service, ["redeliver-dead", "--webhook", "no-such-webhook"]);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr).message).toContain("no webhook no-such-webhook");
    receiver.stop(true);
  });
});

describe("wrong arguments and settings", () => {
  test("an unknown option, an unparsable --since, a missing value or an argument: exit 2 with the usage", async () => {
    const cases = [
      ["retry-failed", "--force"],
      ["retry-failed", "--since", "yesterday"],
      ["retry-failed", "--since", "5 minutes"],
      ["retry-failed", "--user"],
      ["retry-failed", "everything"],
      ["redeliver-dead", "--webhook"],
      ["redeliver-dead", "--since", "1h"],
    ];
    for (const args of cases) {
      const { code, stdout, stderr } = await cli(args, { ORDER_SERVICE_URL: "http://127.0.0.1:1" });
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(stderr).toContain("usage: bun run cli <command>");
    }
  });

  test("no service at ORDER_SERVICE_URL, or not a URL: exit 1 naming it", async () => {
    for (const url of ["http://127.0.0.1:1", "ftp://example.com"])
      for (const command of ["retry-failed", "redeliver-dead"]) {
        const { code, stderr } = await cli([command], { ORDER_SERVICE_URL: url });
        expect(code).toBe(1);
        expect(startupError(stderr).setting).toBe("ORDER_SERVICE_URL");
      }
  });

  test("a service that wants an API key: without API_KEY exit 1 naming it, with it the command runs", async () => {
    const key = "operator-key-0123456789";
    const service = await spawnService({ DATABASE_PATH: join(tempDir(), "orders.db"), API_KEYS: key });
    const refused = await against(service, ["retry-failed"]);
    expect(refused.code).toBe(1);
    expect(startupError(refused.stderr).setting).toBe("API_KEY");
    const allowed = await against(service, ["retry-failed"], { API_KEY: key });
    expect(allowed).toEqual({ code: 0, stdout: "retried 0 failed orders, skipped 0\n", stderr: "" });
  });
});
