/**
 * Connecting to PostgreSQL: one `pg` pool per service process, and the migrations of
 * drizzle/postgres applied at start-up under an advisory lock, so replicas starting together
 * never race. Why node-postgres (`pg`) and not postgres.js: with the server stopped for a few
 * seconds under load, postgres.js left some queries hanging long after it was back (postgres.js
 * #1193, open), while `pg` answered as soon as it returned (figures: docs/PERFORMANCE.md); both
 * are equally fast with prepared statements. `pg`'s price: an idle pool's errors must be handled
 * (`pool.on("error")`) and LISTEN does not reconnect by itself.
 */
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import * as schema from "./schema.ts";

/** The Drizzle database of the adapter, over a pool. */
export type PgDb = ReturnType<typeof drizzle<typeof schema>>;

const MIGRATIONS_FOLDER = join(import.meta.dir, "../../../drizzle/postgres");
// Any fixed 64-bit number: the advisory lock every replica takes around its migrations.
const MIGRATION_LOCK = 4_201_129;

/** `url` with its password replaced, for messages and logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href;
  } catch {
    return "(not a URL)";
  }
}

/**
 * Opens a pool on `url`. Connecting times out after 5 s; `onError` hears about connections the
 * server ended, idle or busy (without a listener, `pg` would crash the process on them).
 */
export function openPool(url: string, onError: (error: Error) => void, max = 16): pg.Pool {
  // Idle connections stay open (pg closes them after 10 s by default): a service under bursty load
  // would otherwise reconnect, and authenticate, again and again.
  // A query gets 10 s: a connection that died without a word (a cut network) would otherwise hold a
  // caller, the queue's pump included, forever.
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 0,
    query_timeout: 10_000,
    keepAlive: true,
  });
  pool.on("error", onError);
  // A connection the server ends while a query of ours holds it (a restart, a failover) emits
  // "error" on its client: without a listener that event would end the process. The query itself
  // fails (a 503 to its caller) and the pool replaces the connection.
  pool.on("connect", (client) => client.on("error", onError));
  return pool;
}

/**
 * Opens every connection of the pool now, and runs `warm` on each: otherwise the first burst after a
 * start waits for up to `max` connection handshakes (and authentications) at once, which put the
 * POST p95 of the first k6 burst against three fresh replicas well above that of a warm one; and
 * each connection's first use of a statement prepares and plans it (the pump's function is
 * compiled too, several times slower on a connection's first call; figures: docs/PERFORMANCE.md).
 */
export async function fillPool(pool: pg.Pool, warm: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const connecting = await Promise.allSettled(Array.from({ length: pool.options.max }, () => pool.connect()));
  const clients = connecting.flatMap((c) => (c.status === "fulfilled" ? [c.value] : []));
  try {
    // A connection refused ("too many clients") fails the start; the ones opened are released, so
    // that ending the pool does not wait for them forever.
    const refused = connecting.find((c) => c.status === "rejected");
    if (refused) throw refused.reason;
    await Promise.all(clients.map(warm));
  } finally {
    for (const client of clients) client.release();
  }
}

/** Applies the committed migrations, one replica at a time (a session advisory lock). */
export async function migrateDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(drizzle({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}

/** The Drizzle database over `pool`. */
export function drizzleOver(pool: pg.Pool): PgDb {
  return drizzle({ client: pool, schema });
}
