/**
 * The storage contract on the PostgreSQL adapter, against a real server: a fresh database per test.
 * Runs when TEST_DATABASE_URL names a server the tests may create databases on (.ci/run starts one);
 * otherwise it says so in one line and skips.
 */
import { describe, test } from "bun:test";
import pg from "pg";
import { openPostgresStorage } from "../src/db/postgres/storage.ts";
import type { Storage } from "../src/storage.ts";
import { describeStorageContract } from "./storage-contract.ts";

const ADMIN_URL = process.env.TEST_DATABASE_URL;

/** A new, empty database on the test server; returns its URL and a function that drops it. */
async function freshDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `orders_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

if (ADMIN_URL) {
  describeStorageContract("postgres", async (): Promise<Storage> => {
    const { url, drop } = await freshDatabase(ADMIN_URL);
    const storage = await openPostgresStorage({ url }, { log: () => {} });
    return {
      ...storage,
      close: async () => {
        await storage.close();
        await drop();
      },
    };
  });
} else {
  describe("storage contract: postgres", () => {
    console.log(
      "PostgreSQL suites skipped: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:55432/postgres)",
    );
    test.skip("needs TEST_DATABASE_URL", () => {});
  });
}
