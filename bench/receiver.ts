/**
 * A webhook receiver for the benches, in a process of its own (so its CPU is measured apart):
 * answers every POST 200, at once or after `delayMs` (a slow receiver), and records how late each
 * delivery arrived, from the event's commit (`data.at`) to its arrival.
 *
 * `GET /stats` answers { delivered, lagP50Ms, lagP99Ms } over the window since the last `/stats`
 * (and starts a new one), and, since the start, `complete`: the orders of which all three events
 * (created, claimed, completed) arrived, `completeAt`: when the last of those did (epoch ms), and
 * `duplicates`: deliveries of an event type an order had already delivered (at-least-once).
 * `GET /progress` answers those three (and `inFlight`) without closing the window.
 * Usage: `bun bench/receiver.ts <port> [delayMs]`.
 */
const port = Number(process.argv[2] ?? 3499);
const delayMs = Number(process.argv[3] ?? 0);

// Each order's event types seen so far, as bits; an order leaves the map once it has all three,
// so a long soak keeps only the orders still in flight.
const BITS: Record<string, number> = { "order.created": 1, "order.claimed": 2, "order.completed": 4 };
const ALL = 7;
const seen = new Map<string, number>();
let complete = 0;
let completeAt = 0;
let duplicates = 0;
let delivered = 0;
let lags: number[] = [];

type Payload = { type?: string; data?: { at?: string; order_id?: string } };

/** Counts one delivery of `payload` towards its order's three events. */
function record(payload: Payload): void {
  const bit = BITS[payload.type ?? ""] ?? 0;
  const orderId = payload.data?.order_id;
  if (bit === 0 || orderId === undefined) return;
  const had = seen.get(orderId) ?? 0;
  if (had & bit) {
    // A redelivery (at least once), or a second claim after a failed attempt, which the benches
    // never make. One that arrives after its order left the map enters it again, as in flight.
    duplicates++;
    return;
  }
  const now = had | bit;
  if (now === ALL) {
    seen.delete(orderId);
    complete++;
    completeAt = Date.now();
  } else seen.set(orderId, now);
}

/** The window's figures, then a new window. */
function stats() {
  const sorted = lags.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const answer = {
    delivered,
    lagP50Ms: at(0.5),
    lagP99Ms: at(0.99),
    complete,
    completeAt,
    duplicates,
    inFlight: seen.size,
  };
  delivered = 0;
  lags = [];
  return answer;
}

Bun.serve({
  hostname: "127.0.0.1",
  port,
  // A slow receiver holds each request for delayMs: past Bun's default 10 s it would cut them.
  idleTimeout: 0,
  async fetch(request) {
    if (request.method === "GET" && new URL(request.url).pathname === "/progress")
      return Response.json({ complete, completeAt, duplicates, inFlight: seen.size });
    if (request.method === "GET") return Response.json(stats());
    const payload = (await request.json()) as Payload;
    if (delayMs > 0) await Bun.sleep(delayMs);
    delivered++;
    const at = Date.parse(payload.data?.at ?? "");
    if (Number.isFinite(at)) lags.push(Date.now() - at);
    record(payload);
    return new Response("ok");
  },
});
console.log(`receiver on ${port}${delayMs > 0 ? `, answering after ${delayMs} ms` : ""}`);
