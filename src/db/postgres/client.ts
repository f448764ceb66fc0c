/**
 * Connecting to PostgreSQL: one `pg` pool per service process, and the migrations of
 * drizzle/postgres applied at start-up under an advisory lock, so replicas starting together
 * never race. Why node-postgres (`pg`) and not postgres.js: with the server stopped for a few
 * seconds under load, postgres.js left some queries hanging long after it was back (postgres.js
 * #1193, open), while `pg` answered as soon as it returned (figures: docs/PERFORMANCE.md); both
 * are equally fast with prepared statements. `pg`'s price: an idle pool's errors must be handled
 * (`pool.on("error")`) and LISTEN does not reconnect by itself.
 *
 * Behind a transaction-mode pooler (PgBouncer before 1.21) each transaction may run on another
 * server connection, so nothing may outlive a transaction: statements go unnamed (`prepared`
 * false), and the migrations' lock is transaction-scoped.
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

/** `config` with its name dropped: `pg` then sends it as the unnamed statement, planned anew each time. */
function unnamed(config: unknown): unknown {
  if (typeof config !== "object" || config === null || !("name" in config)) return config;
  return { ...config, name: undefined };
}

/**
 * A `pg` client that prepares nothing by name: a named statement lives on one server connection,
 * which a transaction-mode pooler gives to another client after the transaction ("prepared
 * statement … already exists" there, or "does not exist"). The extended protocol's unnamed
 * statement lives only until the next Parse, inside one round trip, so it works through any pooler.
 * Covers every caller at once: our `statement()`s, Drizzle's `.prepare(name)` and the pool's own
 * queries all end in `Client.query`.
 */
class UnnamedClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg.Client.query has a dozen overloads; this passes them all through
  override query(...args: any[]): any {
    return (super.query as (...rest: unknown[]) => unknown)(unnamed(args[0]), ...args.slice(1));
  }
}

/**
 * Opens a pool on `url`. Connecting times out after 5 s; `onError` hears about connections the
 * server ended, idle or busy (without a listener, `pg` would crash the process on them).
 * `prepared` false: every statement goes unnamed (PG_PREPARED_STATEMENTS=false, for a pooler).
 */
export function openPool(url: string, onError: (error: Error) => void, max = 16, prepared = true): pg.Pool {
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
    ...(prepared ? {} : { Client: UnnamedClient }),
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

/**
 * Applies the committed migrations, one replica at a time: a transaction-scoped advisory lock taken
 * first in an open transaction, so that it holds through a transaction-mode pooler too (a session
 * lock and its unlock, two statements, could land on two server connections and never be
 * released). Drizzle's migrator reads the applied migrations and then runs `begin` … `commit`
 * itself: inside ours, PostgreSQL only warns at its `begin`, and its `commit` commits the
 * migrations and releases the lock together; the `COMMIT` after it (or the `ROLLBACK` after a
 * failure) ends whatever is still open, if anything (a warning otherwise).
 */
export async function migrateDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await migrate(drizzle({ client, schema }), { migrationsFolder: MIGRATIONS_FOLDER });
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  } finally {
    client.release();
  }
}

/** The Drizzle database over `pool`. */
export function drizzleOver(pool: pg.Pool): PgDb {
  return drizzle({ client: pool, schema });
}
