/**
 * The event reads of the PostgreSQL adapter, named statements like queue-sql.ts.
 *
 * Stream order. `seq` comes from a sequence, taken before commit: one transaction can take seq 5,
 * another seq 6 and commit first, so a reader that resumed "after 6" would skip 5. The stream is
 * instead ordered by (tx_id, seq), and shows only the events below the horizon: those whose
 * `tx_id` is older than every transaction still running (`pg_snapshot_xmin` of the statement's own
 * snapshot). A transaction that holds an id at or above the horizon may still insert events, but
 * they sort after every event shown; a transaction that takes an id later takes a larger one. So
 * once an event is shown, everything before it in the stream is committed and never changes: a
 * reader that keeps the last position it saw misses nothing. This holds for any key that is at
 * least the id of the transaction writing it, which is what lets a claim take a later key (the
 * claims of `orders_settle_and_claim`, drizzle/postgres/0008_apply_transitions.sql) so that one
 * order's events come out in `seq` order: each other transition of an order reads it in a statement
 * that took its transaction id after the previous transition committed. The price: events wait for
 * the oldest write transaction of the whole cluster (any database) that is still open, so a long
 * transaction delays the stream.
 */

import type { EventQuery } from "../../records/order.ts";
import { ms, statement } from "./sql.ts";

/** The columns of an event as the ports speak them, from `order_events e` joined to `orders o`. */
export const EVENT_COLUMNS = `e.seq::float8 AS "seq", o.order_id AS "orderId", o.user_id AS "userId", e.type,
  e.from_status AS "fromStatus", e.to_status AS "toStatus", e.attempt, ${ms("e.at")} AS "at", e.details`;

const EVENTS = "order_events e JOIN orders o ON o.seq = e.order_seq";

// Events of transactions older than every transaction still running.
const BELOW_HORIZON = "e.tx_id < pg_snapshot_xmin(pg_current_snapshot())";

/**
 * The stream position of the event `seq` given by `param`: (its tx_id, its seq). Position 0 is
 * before everything; a seq no event has (never returned by a read) falls back to the tx_id of the
 * event before it.
 */
const positionOf = (param: string) =>
  `(coalesce((SELECT tx_id FROM order_events WHERE seq <= ${param} ORDER BY seq DESC LIMIT 1), '0'::xid8),
    ${param})`;

/** One order's events in `seq` order: [orderId]. */
export const listOrderEvents = statement(
  "list_order_events",
  `SELECT ${EVENT_COLUMNS} FROM ${EVENTS} WHERE o.order_id = $1 ORDER BY e.seq`,
);

/** The position of the last event below the horizon, or no row. */
export const latestEventSeq = statement(
  "latest_event_seq",
  `SELECT e.seq::float8 AS "seq" FROM order_events e WHERE ${BELOW_HORIZON}
   ORDER BY e.tx_id DESC, e.seq DESC LIMIT 1`,
);

/**
 * Up to `limit` events after `after` (up to `upTo`), filtered, in stream order. One named statement
 * per combination of the optional parts (at most 8), so each is prepared once per connection and
 * planned for its own filters.
 */
export function readEvents(query: EventQuery) {
  const values: unknown[] = [query.after, query.limit];
  const where = [BELOW_HORIZON, `(e.tx_id, e.seq) > ${positionOf("$1::bigint")}`];
  let name = "read_events";
  if (query.upTo !== undefined) {
    values.push(query.upTo);
    where.push(`(e.tx_id, e.seq) <= ${positionOf(`$${values.length}::bigint`)}`);
    name += "_up_to";
  }
  if (query.orderId !== undefined) {
    values.push(query.orderId);
    where.push(`o.order_id = $${values.length}`);
    name += "_by_order";
  }
  if (query.userId !== undefined) {
    values.push(query.userId);
    where.push(`o.user_id = $${values.length}`);
    name += "_by_user";
  }
  const text = `SELECT ${EVENT_COLUMNS} FROM ${EVENTS} WHERE ${where.join(" AND ")}
    ORDER BY e.tx_id, e.seq LIMIT $2`;
  return statement(name, text)(values);
}
