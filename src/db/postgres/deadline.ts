/**
 * Server-side deadlines for the statements that lock orders (pump, lease renewal, rescue,
 * release). The client gives up on a query after 10 s, but the server would go on running it,
 * holding its row locks, and claims skip locked rows: the orders waited until it ended. So each
 * such statement runs as one simple-protocol query string, `SET LOCAL statement_timeout = <ms>;
 * <statement>`: one round trip, one implicit transaction, and the timeout ends with it. Unlike a
 * session `SET` or a startup parameter, this works through PgBouncer in transaction mode (a
 * session setting there would leak to whichever client gets the connection next). Since PostgreSQL
 * 13 the timeout applies to each statement of the string separately, so it is armed for the
 * statement after the `SET`.
 *
 * The simple protocol takes no parameters, so the values are written into the text as literals,
 * each exactly as `pg` would have sent it as a parameter (`prepareValue`), then quoted
 * (`escapeLiteral`); every placeholder in the statements carries its type cast.
 */
import pg from "pg";

// `pg.utils` is exported at run time but missing from @types/pg.
const { prepareValue } = (pg as unknown as { utils: { prepareValue: (value: unknown) => string | null } })
  .utils;

/** `config`'s text with its `$n` placeholders replaced by their values as quoted literals. */
function inline(config: pg.QueryConfig): string {
  const values = config.values ?? [];
  return config.text.replace(/\$(\d+)/g, (_, n: string) => {
    const value = prepareValue(values[Number(n) - 1]);
    return value === null ? "NULL" : pg.escapeLiteral(String(value));
  });
}

/** Runs `config` on `pool` (or one client of it) with a server-side deadline of `ms`; returns its result. */
export async function queryWithDeadline<T extends pg.QueryResultRow>(
  pool: pg.Pool | pg.PoolClient,
  config: pg.QueryConfig,
  ms: number,
): Promise<pg.QueryResult<T>> {
  const results = (await pool.query<T>(
    `SET LOCAL statement_timeout = ${Math.max(1, Math.round(ms))}; ${inline(config)}`,
  )) as unknown as pg.QueryResult<T>[];
  // Two statements: two results; the statement's is the last.
  return results[results.length - 1] as pg.QueryResult<T>;
}
