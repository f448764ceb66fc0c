/**
 * The seed's load test, done properly: 1,000 orders POSTed at once (1,000 concurrent connections),
 * then polling /metrics until all are completed. Prints one JSON line.
 * Usage: bun bench/burst.ts <base url> [count]
 */
const base = process.argv[2] ?? "http://127.0.0.1:3000";
const count = Number(process.argv[3] ?? 1000);
const run = Date.now().toString(36);

async function completed(): Promise<number> {
  const body = (await (await fetch(`${base}/metrics`)).json()) as { status_counts: { completed: number } };
  return body.status_counts.completed;
}

const before = await completed();
const started = performance.now();
const statuses = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    fetch(`${base}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        user_id: `user_${i}`,
        order_id: `burst-${run}-${i}`,
        item_ids: [`item_${i}`],
        total_amount: i,
      }),
    }).then((r) => r.status),
  ),
);
const acceptedMs = performance.now() - started;
const accepted = statuses.filter((s) => s === 201).length;
while ((await completed()) - before < accepted && performance.now() - started < 60_000) await Bun.sleep(2);
const completedMs = performance.now() - started;
console.log(
  `BENCH ${JSON.stringify({ count, accepted, accepted_ms: acceptedMs, completed_ms: completedMs })}`,
);
