/**
 * Several replicas of the service on one PostgreSQL database, as real child processes: orders
 * spread over them are each processed once, the same order_id sent to all at once is created
 * once, the orders of a replica killed with -9 are rescued by the others when their leases
 * expire, any replica's dashboard shows them all, and a subscription's deliveries are shared
 * without sending one twice. Runs when TEST_DATABASE_URL is set (.ci/run starts a server); skips
 * in one line otherwise.
 */
import { afterEach, describe, expect, test } from "bun:test";
import pg from "pg";
import { type ChildService, call, cleanup, order, postgresEnv, spawnService, waitFor } from "./helpers.ts";

const ADMIN_URL = process.env.TEST_DATABASE_URL;
const databases: string[] = [];

afterEach(async () => {
  await cleanup();
  if (!ADMIN_URL) return;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  for (const name of databases.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

/** A new, empty database on the test server; its URL. */
async function freshDatabase(adminUrl: string): Promise<string> {
  const name = `orders_replicas_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  databases.push(name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/** Rows of `sql` on `url`. */
async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** How many orders of the database at `url` are in `status`. */
async function countWithStatus(url: string, status: string): Promise<number> {
  const [row] = await query<{ n: string }>(
    url,
    `SELECT count(*) AS n FROM orders WHERE status = '${status}'`,
  );
  return Number(row?.n);
}

/**
 * A TCP proxy to the database that can be cut: `cut()` closes every connection and refuses new
 * ones (the database is gone, as in a restart or a lost network), `restore()` lets them through.
 */
async function cuttableProxy(target: URL) {
  let open = true;
  const pairs = new Set<{ client: Bun.Socket<unknown>; server?: Bun.Socket<unknown> }>();
  const listener = Bun.listen<{
    pair: { client: Bun.Socket<unknown>; server?: Bun.Socket<unknown>; queued: Uint8Array[] };
  }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        if (!open) return void client.end();
        const pair = {
          client,
          server: undefined as Bun.Socket<unknown> | undefined,
          queued: [] as Uint8Array[],
        };
        client.data = { pair };
        pairs.add(pair);
        pair.server = await Bun.connect({
          hostname: target.hostname,
          port: Number(target.port),
          socket: {
            data: (_server, chunk) => void client.write(chunk),
            close: () => void client.end(),
            error: () => void client.end(),
          },
        });
        for (const chunk of pair.queued) pair.server.write(chunk);
      },
      data(client, chunk) {
        const pair = client.data.pair;
        if (pair.server) pair.server.write(chunk);
        else pair.queued.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data?.pair.server?.end();
        if (client.data) pairs.delete(client.data.pair);
      },
    },
  });
  const url = new URL(target.href);
  url.hostname = "127.0.0.1";
  url.port = String(listener.port);
  return {
    url: url.href,
    cut() {
      open = false;
      for (const pair of pairs) {
        pair.client.end();
        pair.server?.end();
      }
      pairs.clear();
    },
    restore() {
      open = true;
    },
    stop: () => listener.stop(true),
  };
}

/**
 * `count` replicas on the database at `url`, started one after another (migrations run once,
 * locked); through PgBouncer when TEST_PGBOUNCER_URL is set, polling unless `listen` gives them
 * `url` for LISTEN (helpers.ts, postgresEnv).
 */
async function replicas(
  url: string,
  count: number,
  env: Record<string, string> = {},
  { listen = false } = {},
): Promise<ChildService[]> {
  const started: ChildService[] = [];
  for (let i = 0; i < count; i++)
    started.push(await spawnService({ ...postgresEnv(url, { listen }), LOG_LEVEL: "warn", ...env }));
  return started;
}

if (!ADMIN_URL) {
  describe("replicas on PostgreSQL", () => {
    console.log(
      "PostgreSQL replica tests skipped: set TEST_DATABASE_URL (a server the tests may create databases on)",
    );
    test.skip("needs TEST_DATABASE_URL", () => {});
  });
} else {
  describe("replicas on PostgreSQL", () => {
    test("three replicas: 3,000 orders spread over them are all completed, each processed once", async () => {
      const url = await freshDatabase(ADMIN_URL);
      const services = await replicas(url, 3, { PROCESSING_TIME_MS: "5" });
      const ids = Array.from({ length: 3000 }, (_, i) => `spread-${i}`);
      for (let start = 0; start < ids.length; start += 200) {
        const answers = await Promise.all(
          ids
            .slice(start, start + 200)
            .map((id, i) => call((services[i % 3] as ChildService).url, "POST", "/orders", order(id))),
        );
        expect(answers.every((answer) => answer.status === 201)).toBe(true);
      }
      await waitFor(async () => (await countWithStatus(url, "completed")) === ids.length, {
        timeoutMs: 60_000,
        what: "every order completed",
      });
      const attempts = await query<{ attempts: number; n: string }>(
        url,
        "SELECT attempts, count(*) AS n FROM orders GROUP BY attempts",
      );
      expect(attempts.map((row) => [row.attempts, Number(row.n)])).toEqual([[1, ids.length]]);
      // The counts behind /metrics add up across replicas.
      const metrics = (await call((services[2] as ChildService).url, "GET", "/metrics")).body;
      expect(metrics.status_counts.completed).toBe(ids.length);
    }, 120_000);

    test("the same order_id sent to every replica at once is created exactly once", async () => {
      const url = await freshDatabase(ADMIN_URL);
      const services = await replicas(url, 3, { PROCESSING_TIME_MS: "0" });
      for (let round = 0; round < 20; round++) {
        const answers = await Promise.all(
          services.flatMap((service) =>
            Array.from({ length: 5 }, () => call(service.url, "POST", "/orders", order(`same-${round}`))),
          ),
        );
        expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(14);
      }
    }, 60_000);

    test("cancels racing claims across replicas: both outcomes happen, never both for one order", async () => {
      const url = await freshDatabase(ADMIN_URL);
      // Few slots, so some orders wait pending (their cancel wins) while others are claimed first.
      const services = await replicas(url, 3, {
        WORKERS: "1",
        WORKER_CONCURRENCY: "4",
        PROCESSING_TIME_MS: "2",
      });
      const at = (i: number) => (services[i % 3] as ChildService).url;
      const answers = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const id = `race-${i}`;
          expect((await call(at(i), "POST", "/orders", order(id))).status).toBe(201);
          return { id, cancel: await call(at(i + 1), "POST", `/orders/${id}/cancel`) };
        }),
      );
      await waitFor(
        async () =>
          (await countWithStatus(url, "pending")) + (await countWithStatus(url, "processing")) === 0,
      );
      const rows = await query<{
        order_id: string;
        status: string;
        attempts: number;
        started_at: Date | null;
      }>(url, "SELECT order_id, status, attempts, started_at FROM orders");
      const byId = new Map(rows.map((row) => [row.order_id, row]));
      let cancelled = 0;
      for (const { id, cancel } of answers) {
        const row = byId.get(id);
        if (cancel.status === 200) {
          cancelled++;
          expect(row).toMatchObject({ status: "cancelled", attempts: 0, started_at: null });
        } else {
          expect(cancel.status).toBe(409);
          expect(row).toMatchObject({ status: "completed", attempts: 1 });
        }
      }
      expect(cancelled).toBeGreaterThan(0);
      expect(cancelled).toBeLessThan(answers.length);
    }, 60_000);

    test("an order posted to a busy replica is started by an idle one at once, not at its next poll", async () => {
      const url = await freshDatabase(ADMIN_URL);
      // A: one slot, held by an order that takes a minute. B: idle, polling only once a second.
      // Through PgBouncer, LISTEN needs DATABASE_DIRECT_URL: given here (the others poll).
      const listen = { listen: true };
      const [busy] = await replicas(
        url,
        1,
        { WORKERS: "1", WORKER_CONCURRENCY: "1", PROCESSING_TIME_MS: "60000" },
        listen,
      );
      await call((busy as ChildService).url, "POST", "/orders", order("hog"));
      await waitFor(async () => (await countWithStatus(url, "processing")) === 1);
      // B only now, so that A, not B, holds the long order.
      await replicas(url, 1, { PROCESSING_TIME_MS: "5" }, listen);
      for (let i = 0; i < 5; i++) {
        await Bun.sleep(300); // B's last wake-up is behind it: only a notification is quick now
        expect((await call((busy as ChildService).url, "POST", "/orders", order(`wake-${i}`))).status).toBe(
          201,
        );
      }
      await waitFor(async () => (await countWithStatus(url, "completed")) === 5);
      // With polling alone each order would wait 0-1,000 ms: all five under 400 ms is a 1% fluke.
      const waits = await query<{ ms: number }>(
        url,
        "SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM orders WHERE order_id LIKE 'wake-%'",
      );
      expect(waits).toHaveLength(5);
      for (const { ms } of waits) expect(Number(ms)).toBeLessThan(400);
    }, 60_000);

    test("the database gone for a while under load: 503s meanwhile, no false 201, then it recovers by itself", async () => {
      const database = await freshDatabase(ADMIN_URL);
      // In front of PgBouncer when the run goes through it: the service loses its pooler.
      const proxy = await cuttableProxy(new URL(postgresEnv(database).DATABASE_URL as string));
      try {
        // A short lease: a claim committed while its answer was lost must be rescued within the test.
        const [service] = await replicas(database, 1, {
          DATABASE_URL: proxy.url,
          PROCESSING_TIME_MS: "5",
          LEASE_MS: "1500",
        });
        const base = (service as ChildService).url;
        const accepted: string[] = [];
        const statuses = new Map<number, number>();
        let next = 0;
        let posting = true;
        const poster = async () => {
          while (posting) {
            const id = `gone-${next++}`;
            const res = await call(base, "POST", "/orders", order(id));
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status === 201) accepted.push(id);
            else expect(res.body.error.code).toBe("STORAGE_UNAVAILABLE");
          }
        };
        const posters = Array.from({ length: 8 }, poster);
        await waitFor(() => accepted.length >= 200);
        proxy.cut();
        await waitFor(() => (statuses.get(503) ?? 0) >= 20, { what: "503s while the database is gone" });
        expect((await call(base, "GET", "/ready")).status).toBe(503);
        proxy.restore();
        const acceptedAtRestore = accepted.length;
        await waitFor(() => accepted.length >= acceptedAtRestore + 200, { what: "201s again" });
        posting = false;
        await Promise.all(posters);

        expect([...statuses.keys()].sort()).toEqual([201, 503]);
        await waitFor(async () => (await call(base, "GET", "/ready")).status === 200, {
          what: "ready again",
        });
        // A create whose commit went through just as the database went away was answered 503 (never
        // 201): it may exist too, so the test waits for the queue to be empty, not for a count.
        await waitFor(
          async () => {
            const counts = (await call(base, "GET", "/metrics")).body.status_counts;
            return counts.pending === 0 && counts.processing === 0;
          },
          { timeoutMs: 30_000, what: "the queue to drain" },
        );
        for (const id of accepted) {
          expect((await call(base, "GET", `/orders/${id}/status`)).body.status).toBe("completed");
        }
      } finally {
        proxy.stop();
      }
    }, 60_000);

    test("a replica killed with -9 while it holds orders: the others complete them once its leases expire", async () => {
      const url = await freshDatabase(ADMIN_URL);
      const lease = { LEASE_MS: "1500" };
      const [victim] = await replicas(url, 1, { ...lease, PROCESSING_TIME_MS: "60000" });
      const ids = Array.from({ length: 40 }, (_, i) => `held-${i}`);
      for (const id of ids)
        expect((await call((victim as ChildService).url, "POST", "/orders", order(id))).status).toBe(201);
      await waitFor(async () => (await countWithStatus(url, "processing")) === ids.length);
      (victim as ChildService).proc.kill("SIGKILL");
      await (victim as ChildService).proc.exited;
      const killedAt = Date.now();

      await replicas(url, 2, { ...lease, PROCESSING_TIME_MS: "5" });
      await waitFor(async () => (await countWithStatus(url, "completed")) === ids.length, {
        timeoutMs: 30_000,
        what: "the rescued orders to complete",
      });
      // Within the lease and the rescue round, plus a margin.
      expect(Date.now() - killedAt).toBeLessThan(1500 + 5000);
      const attempts = await query<{ attempts: number }>(url, "SELECT DISTINCT attempts FROM orders");
      expect(attempts).toEqual([{ attempts: 2 }]);
    }, 60_000);

    test("the dashboard of any replica shows the whole system: every replica's orders and activity", async () => {
      const url = await freshDatabase(ADMIN_URL);
      const [a, b] = (await replicas(url, 2, { PROCESSING_TIME_MS: "5", PROCESSING_FAILURE_RATE: "0" })) as [
        ChildService,
        ChildService,
      ];
      for (let i = 0; i < 60; i++)
        expect((await call(i % 2 ? a.url : b.url, "POST", "/orders", order(`dash-${i}`))).status).toBe(201);
      await waitFor(async () => (await countWithStatus(url, "completed")) === 60, {
        what: "every order completed",
      });
      // Each replica publishes its activity every second; both must be in either one's answer.
      const data = await waitFor(
        async () => {
          const body = (await call(a.url, "GET", "/dashboard/data")).body;
          const processed = body.processing_ms.p50 !== null;
          // A replica's first report, sent as it starts, has no worker thread up yet: wait for the
          // reports of both with their threads (4 threads x 32 slots each).
          const bothUp = body.slots.capacity === 2 * 4 * 32;
          return body.replicas === 2 && body.orders.by_status.completed === 60 && processed && bothUp && body;
        },
        { what: "the dashboard to count both replicas and their slots", timeoutMs: 10_000 },
      );
      expect(data.orders.total).toBe(60);
      const fromB = (await call(b.url, "GET", "/dashboard/data")).body;
      expect(fromB.replicas).toBe(2);
    }, 60_000);

    test("two replicas share one subscription's deliveries: every event delivered exactly once", async () => {
      const received: string[] = [];
      const receiver = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: async (request) => {
          await request.arrayBuffer();
          received.push(request.headers.get("webhook-id") ?? "");
          return new Response("ok");
        },
      });
      try {
        const url = await freshDatabase(ADMIN_URL);
        const services = await replicas(url, 2, {
          PROCESSING_TIME_MS: "0",
          WEBHOOK_ALLOWED_HOSTS: "127.0.0.1",
        });
        const [a, b] = services as [ChildService, ChildService];
        const hook = await call(a.url, "POST", "/webhooks", { url: `http://127.0.0.1:${receiver.port}/h` });
        expect(hook.status).toBe(201);
        const ids = Array.from({ length: 200 }, (_, i) => `hook-${i}`);
        await Promise.all(ids.map((id, i) => call(i % 2 ? a.url : b.url, "POST", "/orders", order(id))));
        await waitFor(async () => (await countWithStatus(url, "completed")) === ids.length, {
          what: "every order completed",
        });
        // created, claimed, completed: three events per order, each sent once by one replica.
        await waitFor(() => received.length >= 3 * ids.length, { what: "every delivery", timeoutMs: 30_000 });
        await Bun.sleep(500);
        expect(received.length).toBe(3 * ids.length);
        expect(new Set(received).size).toBe(received.length);
        const [row] = await query<{ n: string }>(
          url,
          "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 1",
        );
        expect(Number(row?.n)).toBe(3 * ids.length);
      } finally {
        receiver.stop(true);
      }
    }, 60_000);
  });
}
