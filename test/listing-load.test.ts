/**
 * Listings cannot starve the service: while hundreds of 500-order listings are in flight, a health
 * check and a new order are answered long before the listings are done (they used to wait behind
 * every one of them: /health ~1 s under 512 listing clients). Ordered by completion, not by a clock.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { call, cleanup, order, spawnService, tempDir } from "./helpers.ts";

afterEach(cleanup);

test("/health and POST /orders are answered between listings, not after all of them", async () => {
  const { url } = await spawnService({
    DATABASE_PATH: join(tempDir(), "orders.db"),
    PROCESSING_TIME_MS: "0",
  });
  await Promise.all(Array.from({ length: 500 }, (_, i) => call(url, "POST", "/orders", order(`page-${i}`))));

  let listingsDone = 0;
  const listings = Array.from({ length: 400 }, () =>
    fetch(new URL("/orders?limit=500", url))
      .then((res) => res.json())
      .then((body: any) => {
        expect(body.orders).toHaveLength(500);
        listingsDone++;
      }),
  );
  // Sent after all 400 listings: each is answered while most listings still wait their turn.
  const health = fetch(new URL("/health", url)).then((res) => ({ status: res.status, after: listingsDone }));
  const created = call(url, "POST", "/orders", order("during-listings")).then((res) => ({
    status: res.status,
    after: listingsDone,
  }));
  const [healthAnswer, createAnswer] = await Promise.all([health, created]);
  await Promise.all(listings);
  expect(healthAnswer.status).toBe(200);
  expect(createAnswer.status).toBe(201);
  expect(healthAnswer.after).toBeLessThan(200);
  expect(createAnswer.after).toBeLessThan(200);
});
