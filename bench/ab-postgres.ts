/**
 * `bun bench/ab-postgres.ts <checkout A> <checkout B> [rounds]`: bench/ab.ts on PostgreSQL. The
 * end-to-end scenario (10 s of POST /orders with instant processing, then until every order is
 * completed) and intake with the workers held, alternating A, B, A, B …, each run on a fresh
 * database migrated by its own checkout. Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL) and wrk.
 */
import { resolve } from "node:path";
import { freshDatabase, requireWrk, runEndToEnd, runIntake } from "./lib.ts";

const [a, b, roundsArg] = process.argv.slice(2);
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (!a || !b || !ADMIN_URL) {
  console.error(
    "usage: BENCH_DATABASE_URL=postgres://… bun bench/ab-postgres.ts <checkout A> <checkout B> [rounds]",
  );
  process.exit(1);
}
requireWrk();

const sides = { A: resolve(a), B: resolve(b) };
const results = {
  A: { e2e: [] as number[], held: [] as number[] },
  B: { e2e: [] as number[], held: [] as number[] },
};
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
for (let round = 0; round < Number(roundsArg ?? 3); round++) {
  for (const side of ["A", "B"] as const) {
    const env = { DATABASE_URL: await freshDatabase(ADMIN_URL as string, "ab"), LOG_LEVEL: "warn" };
    const e2e = await runEndToEnd({
      port: 3490,
      db: "/tmp/unused.db",
      seconds: 10,
      cwd: sides[side],
      env,
      concurrency: "32",
    });
    const held = await runIntake({
      port: 3490,
      db: "/tmp/unused.db",
      seconds: 10,
      cwd: sides[side],
      env: {
        DATABASE_URL: await freshDatabase(ADMIN_URL as string, "ab"),
        LOG_LEVEL: "warn",
        WORKER_CONCURRENCY: "1",
        PROCESSING_TIME_MS: "600000",
      },
    });
    results[side].e2e.push(e2e.completedPerSecond);
    results[side].held.push(held.load.rps);
    console.log(
      `${side} round ${round + 1}: end to end ${e2e.completedPerSecond.toFixed(0)}/s, intake (workers held) ${held.load.rps.toFixed(0)}/s`,
    );
  }
}
for (const side of ["A", "B"] as const)
  console.log(
    `${side} (${sides[side]}): median end to end ${median(results[side].e2e).toFixed(0)}/s, intake (workers held) ${median(results[side].held).toFixed(0)}/s`,
  );
