/**
 * Reference servers for the benchmark, so every figure has a yardstick measured in the same run:
 *   validate  the same Elysia route, parser and body schema as POST /orders, no database at all
 *   naive     the same route committing each order in its own transaction (one fsync per request),
 *             the design the service replaces, on Drizzle with the same schema and pragmas
 * Usage: bun bench/reference-server.ts <validate|naive> <port> [database path]
 */
import { Elysia } from "elysia";
import { migrateDatabase, openDatabase } from "../src/db/sqlite/client.ts";
import { createWriteOps } from "../src/db/sqlite/writes.ts";
import { toMinor } from "../src/kit/currency.ts";
import { parseJsonBody } from "../src/kit/json-body.ts";
import { created as createdTransition } from "../src/lifecycle.ts";
import { CreateOrderBody } from "../src/orders/model.ts";

const CREATED = createdTransition();

const [mode, port, databasePath] = process.argv.slice(2);
function openNaive(path: string) {
  const db = openDatabase(path, "FULL");
  migrateDatabase(db);
  return createWriteOps(db);
}
const store = mode === "naive" ? openNaive(databasePath ?? "./data/naive.db") : undefined;

new Elysia({ normalize: false })
  .post(
    "/orders",
    ({ body, set }) => {
      if (store) {
        store.createOrder(
          {
            orderId: body.order_id,
            userId: body.user_id,
            itemIds: JSON.stringify(body.item_ids),
            currency: "USD",
            totalMinor: toMinor(body.total_amount ?? 0, 2) ?? 0,
            cart: null,
            createdAt: Date.now(),
          },
          CREATED,
        );
      }
      set.status = 201;
      return { order_id: body.order_id, status: "pending" };
    },
    { parse: [({ request }) => parseJsonBody(request), "application/json"], body: CreateOrderBody },
  )
  .listen({ hostname: "127.0.0.1", port: Number(port) });
console.log(`reference ${mode} listening on ${port}`);
