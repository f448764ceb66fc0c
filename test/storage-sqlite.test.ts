/** The storage contract on the SQLite adapter (a fresh database file per test), and its file lock. */

import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { FileLockedError, openSqliteStorage } from "../src/db/sqlite/storage.ts";
import { created, restarted } from "../src/lifecycle.ts";
import { cleanup, tempDir } from "./helpers.ts";
import { describeStorageContract } from "./storage-contract.ts";
import { describeRetentionContract } from "./storage-contract-retention.ts";

afterEach(cleanup);

const open = (path: string) =>
  openSqliteStorage(
    { path, synchronous: "FULL", restarted: restarted() },
    {
      log: () => {},
      onFatal: (reason) => {
        throw new Error(`the SQLite writer failed: ${reason}`);
      },
    },
  );

describeStorageContract("sqlite", () => open(join(tempDir(), "orders.db")));
describeRetentionContract("sqlite", () => open(join(tempDir(), "orders.db")));

test("one open storage per file: a second open is refused until the first is closed, and the data stays", async () => {
  const path = join(tempDir(), "orders.db");
  const first = await open(path);
  await first.orders.createOrder(
    {
      orderId: "kept",
      userId: "u",
      itemIds: ["i"],
      currency: "USD",
      totalMinor: 1,
      cart: null,
      createdAt: 1,
    },
    created(),
  );
  await expect(open(path)).rejects.toBeInstanceOf(FileLockedError);
  await first.close();
  const second = await open(path);
  expect(await second.orders.findOrderStatus("kept")).toEqual({ orderId: "kept", status: "pending" });
  await second.close();
});
