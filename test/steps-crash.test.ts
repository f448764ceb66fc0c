/**
 * Durable steps under kill -9 (issue 22): a three-step module (fixtures/steps-reporting.ts) reports
 * each step's start and end to a receiver in this test, which holds step two (then step three) of
 * every order of a round inside its call while the process is killed. Afterwards every accepted
 * order is completed, step one ran once per order, step two ran to its end once, and step three
 * started once per kill that hit it plus one. A second test kills at random moments and checks
 * that no step ran again in an attempt after the one whose completion was recorded. On SQLite (the
 * one process), and on PostgreSQL with one replica among three killed (when TEST_DATABASE_URL is set).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import pg from "pg";
import {
  type ChildService,
  call,
  cleanup,
  freshPostgresDatabase,
  order,
  spawnService,
  tempDir,
  waitFor,
} from "./helpers.ts";

const MODULE = join(import.meta.dir, "fixtures/steps-reporting.ts");
const ADMIN_URL = process.env.TEST_DATABASE_URL;

type StepCall = { order: string; step: string; phase: "start" | "end"; attempt: number; pid: number };

/** The receiver the steps report to; `hold` names the step whose start it does not answer. */
class Receiver {
  readonly calls: StepCall[] = [];
  hold: string | null = null;
  private held: { call: StepCall; answer: () => void }[] = [];
  private readonly server: Server<undefined>;

  constructor() {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      fetch: async (request) => {
        const call = (await request.json()) as StepCall;
        this.calls.push(call);
        if (call.phase !== "start" || call.step !== this.hold) return new Response("ok");
        return new Promise<Response>((resolve) =>
          this.held.push({ call, answer: () => resolve(new Response("ok")) }),
        );
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  /** The calls held now. */
  holding(): StepCall[] {
    return this.held.map((entry) => entry.call);
  }

  /** Answers the held calls (of a killed process: nobody hears it) and holds `step` from now on. */
  holdNext(step: string | null): void {
    this.hold = step;
    for (const entry of this.held.splice(0)) entry.answer();
  }

  /** How many times each order ran `step` to `phase`. */
  count(orderId: string, step: string, phase: "start" | "end"): number {
    return this.calls.filter((c) => c.order === orderId && c.step === step && c.phase === phase).length;
  }

  stop(): void {
    this.holdNext(null);
    this.server.stop(true);
  }
}

let receiver: Receiver | undefined;
afterEach(async () => {
  receiver?.stop();
  receiver = undefined;
  await cleanup();
});

/** A receiver for this test, stopped after it. */
function startReceiver(): Receiver {
  receiver = new Receiver();
  return receiver;
}

/** A service's environment on a new SQLite file, running the reporting steps. */
const onSqlite = (r: Receiver, extra: Record<string, string> = {}) => ({
  DATABASE_PATH: join(tempDir(), "orders.db"),
  PROCESS_ORDER_MODULE: MODULE,
  STEPS_RECEIVER: r.url,
  ...extra,
});

/** Posts `ids` to `service`, each accepted with 201. */
async function post(service: ChildService, ids: string[]): Promise<void> {
  const answers = await Promise.all(ids.map((id) => call(service.url, "POST", "/orders", order(id))));
  expect(answers.map((a) => a.status)).toEqual(ids.map(() => 201));
}

/** Waits until every one of `ids` has a call of `step` held, and returns the held calls. */
async function heldIn(r: Receiver, step: string, ids: string[], timeoutMs = 20_000): Promise<StepCall[]> {
  const wanted = new Set(ids);
  return waitFor(
    () => {
      const held = r.holding().filter((c) => c.step === step && wanted.has(c.order));
      return new Set(held.map((c) => c.order)).size === wanted.size && held;
    },
    { what: `every order of the round held in step ${step}`, timeoutMs },
  );
}

async function killed(service: ChildService): Promise<void> {
  service.proc.kill("SIGKILL");
  await service.proc.exited;
}

/** Waits until every one of `ids` is completed on `service`. */
async function allCompleted(service: ChildService, ids: string[], timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const statuses = await Promise.all(
        ids.map(async (id) => (await call(service.url, "GET", `/orders/${id}/status`)).body.status),
      );
      return statuses.every((status) => status === "completed");
    },
    { what: "every order completed", timeoutMs },
  );
}

/** Each order's recorded steps, and that they are the three, completed. */
async function expectThreeRecorded(service: ChildService, ids: string[]): Promise<void> {
  for (const id of ids) {
    const { body } = await call(service.url, "GET", `/orders/${id}`);
    expect(body.status).toBe("completed");
    expect(body.steps.map((s: { name: string }) => s.name)).toEqual(["one", "two", "three"]);
  }
}

/**
 * No step ran in an attempt after the one that recorded it, and each ran in that attempt once:
 * what "a completed step never runs again" means, read off the receiver's calls.
 */
async function expectNoStepRanAfterItsRecord(
  r: Receiver,
  service: ChildService,
  ids: string[],
): Promise<void> {
  for (const id of ids) {
    const { body } = await call(service.url, "GET", `/orders/${id}`);
    for (const step of body.steps as { name: string; attempt: number }[]) {
      const starts = r.calls.filter((c) => c.order === id && c.step === step.name && c.phase === "start");
      expect(starts.filter((c) => c.attempt > step.attempt)).toEqual([]);
      expect(starts.filter((c) => c.attempt === step.attempt)).toHaveLength(1);
    }
  }
}

describe("durable steps on SQLite, kill -9", () => {
  test("killed while every order is inside step two, then step three: each step runs to its end once", async () => {
    const r = startReceiver();
    const env = onSqlite(r);
    let service = await spawnService(env);
    const all: string[] = [];
    for (let round = 0; round < 3; round++) {
      const ids = Array.from({ length: 40 }, (_, i) => `round${round}-${i}`);
      all.push(...ids);
      r.holdNext("two");
      await post(service, ids);
      await heldIn(r, "two", ids);
      await killed(service);
      r.holdNext("three");
      service = await spawnService(env);
      await heldIn(r, "three", ids);
      await killed(service);
      r.holdNext(null);
      service = await spawnService(env);
      await allCompleted(service, ids);
    }
    for (const id of all) {
      expect([r.count(id, "one", "start"), r.count(id, "one", "end")]).toEqual([1, 1]);
      // Started, killed inside; started again after the restart and ran to its end.
      expect([r.count(id, "two", "start"), r.count(id, "two", "end")]).toEqual([2, 1]);
      expect([r.count(id, "three", "start"), r.count(id, "three", "end")]).toEqual([2, 1]);
    }
    await expectThreeRecorded(service, all);
    await expectNoStepRanAfterItsRecord(r, service, all);
  });

  test("killed at random moments under load: no step whose completion was recorded runs again", async () => {
    const r = startReceiver();
    const env = onSqlite(r, { STEPS_DELAY_MS: "20", MAX_ATTEMPTS: "100" });
    let service = await spawnService(env);
    const ids = Array.from({ length: 400 }, (_, i) => `random-${i}`);
    await post(service, ids);
    for (let kill = 0; kill < 6; kill++) {
      await Bun.sleep(50 + Math.random() * 250);
      await killed(service);
      service = await spawnService(env);
    }
    await allCompleted(service, ids, 60_000);
    await expectThreeRecorded(service, ids);
    await expectNoStepRanAfterItsRecord(r, service, ids);
    for (const id of ids) expect(r.count(id, "three", "end")).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(!ADMIN_URL)("durable steps on PostgreSQL, one replica among three killed", () => {
  test("killed while every order is inside step two, then step three: each step runs to its end once", async () => {
    const r = startReceiver();
    const env = {
      DATABASE_URL: await freshPostgresDatabase(),
      PROCESS_ORDER_MODULE: MODULE,
      STEPS_RECEIVER: r.url,
      LEASE_MS: "1000",
      MAX_ATTEMPTS: "10",
    };
    const replicas = await Promise.all([0, 1, 2].map(() => spawnService(env)));
    const pids = () => replicas.map((replica) => replica.proc.pid);
    /** Kills the replica holding the most of `held`, starts another in its place; the orders it held. */
    async function killBusiest(held: StepCall[]): Promise<Set<string>> {
      const busiest = pids()
        .map((pid) => ({ pid, orders: held.filter((c) => c.pid === pid).map((c) => c.order) }))
        .sort((a, b) => b.orders.length - a.orders.length)[0] as { pid: number; orders: string[] };
      const index = replicas.findIndex((replica) => replica.proc.pid === busiest.pid);
      await killed(replicas[index] as ChildService);
      replicas[index] = await spawnService(env);
      return new Set(busiest.orders);
    }
    const all: string[] = [];
    const hits = new Map<string, { two: number; three: number }>();
    for (let round = 0; round < 3; round++) {
      const ids = Array.from({ length: 30 }, (_, i) => `pg-round${round}-${i}`);
      all.push(...ids);
      r.holdNext("two");
      // Spread over the replicas, as a load balancer would.
      await Promise.all(ids.map((id, i) => post(replicas[i % 3] as ChildService, [id])));
      const killedInTwo = await killBusiest(await heldIn(r, "two", ids));
      expect(killedInTwo.size).toBeGreaterThan(0);
      // The survivors' held calls are answered; the killed one's orders are rescued when their
      // leases run out and run step two again, on a survivor or the replacement.
      r.holdNext("three");
      const killedInThree = await killBusiest(await heldIn(r, "three", ids));
      r.holdNext(null);
      await allCompleted(replicas[0] as ChildService, ids);
      for (const id of ids)
        hits.set(id, { two: killedInTwo.has(id) ? 1 : 0, three: killedInThree.has(id) ? 1 : 0 });
    }
    for (const id of all) {
      const hit = hits.get(id) as { two: number; three: number };
      expect([r.count(id, "one", "start"), r.count(id, "one", "end")]).toEqual([1, 1]);
      expect([r.count(id, "two", "start"), r.count(id, "two", "end")]).toEqual([1 + hit.two, 1]);
      expect([r.count(id, "three", "start"), r.count(id, "three", "end")]).toEqual([1 + hit.three, 1]);
    }
    await expectThreeRecorded(replicas[0] as ChildService, all);
    await expectNoStepRanAfterItsRecord(r, replicas[0] as ChildService, all);
    // Nothing lost: the database holds every order, each completed once.
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    const { rows } = await client.query("SELECT status, count(*)::int AS n FROM orders GROUP BY status");
    await client.end();
    expect(rows).toEqual([{ status: "completed", n: all.length }]);
  });
});
