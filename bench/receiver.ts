/**
 * A fast webhook receiver for the benches, in a process of its own (so its CPU is measured apart):
 * answers every POST 200 at once and records how late each delivery arrived, from the event's
 * commit (`data.at`) to its arrival. `GET /stats` answers { delivered, lagP50Ms, lagP99Ms } and
 * starts a new window. Usage: `bun bench/receiver.ts <port>`.
 */
const port = Number(process.argv[2] ?? 3499);
let delivered = 0;
let lags: number[] = [];

Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    if (request.method === "GET") {
      const sorted = lags.sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      const stats = { delivered, lagP50Ms: at(0.5), lagP99Ms: at(0.99) };
      delivered = 0;
      lags = [];
      return Response.json(stats);
    }
    const body = (await request.json()) as { data?: { at?: string } };
    delivered++;
    const at = Date.parse(body.data?.at ?? "");
    if (Number.isFinite(at)) lags.push(Date.now() - at);
    return new Response("ok");
  },
});
console.log(`receiver on ${port}`);
