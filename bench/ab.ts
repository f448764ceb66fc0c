/**
 * `bun bench/ab.ts <checkout A> <checkout B> [rounds]`: the A/B comparison behind every "no
 * regression" claim. Runs the intake and end-to-end scenarios of `bun run bench` (same wrk scripts,
 * same settings, 20 s loads) on two checkouts of the service, alternating A, B, A, B … so drift of
 * the machine hits both alike, and prints every run and the medians. Each checkout needs its
 * node_modules (a symlink to this one's is fine). AB_ENV_A / AB_ENV_B (JSON objects) add settings to one
 * side, e.g. the same checkout twice with AB_ENV_A='{"LOG_LEVEL":"warn"}' measures the access log.
 * Example: git worktree add /tmp/before HEAD~1 && ln -s $PWD/node_modules /tmp/before/ &&
 *          bun bench/ab.ts /tmp/before . 3
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { requireWrk, runEndToEnd, runIntake } from "./lib.ts";

const [a, b, roundsArg] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: bun bench/ab.ts <checkout A> <checkout B> [rounds]");
  process.exit(1);
}
requireWrk();
const rounds = Number(roundsArg ?? 3);
const SECONDS = 20;
const TMP = mkdtempSync(join(tmpdir(), "orders-ab-"));
const sides = { A: resolve(a), B: resolve(b) };
const sideEnv = {
  A: JSON.parse(process.env.AB_ENV_A ?? "{}") as Record<string, string>,
  B: JSON.parse(process.env.AB_ENV_B ?? "{}") as Record<string, string>,
};
const results: Record<"A" | "B", { intake: number[]; intakeP99: number[]; e2e: number[] }> = {
  A: { intake: [], intakeP99: [], e2e: [] },
  B: { intake: [], intakeP99: [], e2e: [] },
};

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString("en");

try {
  for (let round = 1; round <= rounds; round++) {
    for (const side of ["A", "B"] as const) {
      const cwd = sides[side];
      const intake = await runIntake({
        port: 3420,
        db: join(TMP, `${side}-${round}-intake.db`),
        seconds: SECONDS,
        cwd,
        env: sideEnv[side],
      });
      const e2e = await runEndToEnd({
        port: 3421,
        db: join(TMP, `${side}-${round}-e2e.db`),
        seconds: SECONDS,
        cwd,
        env: sideEnv[side],
        concurrency: "32",
      });
      results[side].intake.push(intake.load.rps);
      results[side].intakeP99.push(intake.load.p99_ms);
      results[side].e2e.push(e2e.completedPerSecond);
      console.log(
        `round ${round} ${side}: intake ${fmt(intake.load.rps)}/s (p99 ${intake.load.p99_ms.toFixed(2)} ms), ` +
          `end to end ${fmt(e2e.completedPerSecond)}/s over ${fmt(e2e.orders)} orders`,
      );
    }
  }
} finally {
  rmSync(TMP, { recursive: true, force: true });
}

console.log(`\nA = ${sides.A}\nB = ${sides.B}\n`);
console.log("| | intake orders/s (runs) | median | end to end orders/s (runs) | median |");
console.log("| --- | --- | ---: | --- | ---: |");
for (const side of ["A", "B"] as const) {
  const r = results[side];
  console.log(
    `| ${side} | ${r.intake.map(fmt).join(", ")} | ${fmt(median(r.intake))} | ${r.e2e.map(fmt).join(", ")} | ${fmt(median(r.e2e))} |`,
  );
}
const ratio = (key: "intake" | "e2e") => median(results.B[key]) / median(results.A[key]);
console.log(`\nB / A medians: intake ${ratio("intake").toFixed(3)}, end to end ${ratio("e2e").toFixed(3)}`);
