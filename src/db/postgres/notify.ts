/**
 * Wake-ups between replicas with LISTEN/NOTIFY, one channel per kind of news: a replica that stores
 * new orders notifies NEW_ORDERS (every listening replica claims at once instead of at its next
 * poll), one that records events notifies EVENTS (event readers look at once). Two channels, so
 * that the many transitions that record events never wake the queues. Polling stays: a
 * notification can be lost (a listener reconnecting), and retries fall due by time.
 * node-postgres does not re-LISTEN after a lost connection, so the listener reconnects itself.
 * A storage signs its notifications and ignores those it hears back: it wakes its own queue and
 * event readers directly, at once.
 * NOTIFY is one statement in its own transaction, so it works through a transaction-mode pooler;
 * LISTEN holds a session, so it needs a URL that keeps one (DATABASE_DIRECT_URL), or none: then
 * this replica hears nothing and polls (the queue and the event readers look at least once a
 * second anyway).
 */
import { randomUUID } from "node:crypto";
import pg from "pg";

/** New orders are due: wakes the queues. */
export const NEW_ORDERS = "order_service_new_orders";
/** Events were committed: wakes the event readers. */
export const EVENTS = "order_service_events";

// At most one notifying transaction per replica this often, for all channels with news: under load
// the writes of every event-loop turn would otherwise each send one, and NOTIFY takes a
// cluster-wide lock at commit.
const NOTIFY_EVERY_MS = 10;
const RECONNECT_MS = 1000;

type Log = (message: string, error: string) => void;

/**
 * Sends wake-ups, throttled: `notify(channel)` sends at once or at the end of the current window,
 * one statement for every channel named meanwhile. A failure is only logged (the others poll).
 */
export function createNotifier(pool: pg.Pool, log: Log) {
  // This storage's signature on its notifications.
  const signature = randomUUID();
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Set<string>();
  const send = () => {
    timer = undefined;
    last = Date.now();
    const channels = [...pending];
    pending.clear();
    pool
      .query({
        name: "notify_channels",
        text: "SELECT pg_notify(c, $2) FROM unnest($1::text[]) AS c",
        values: [channels, signature],
      })
      .catch((error: Error) => log("PostgreSQL notify failed", error.message));
  };
  return {
    signature,
    notify(channel: string): void {
      pending.add(channel);
      if (timer) return;
      const wait = last + NOTIFY_EVERY_MS - Date.now();
      if (wait <= 0) send();
      else timer = setTimeout(send, wait);
    },
    /** Drops a wake-up still waiting for its window (the pool is about to end). */
    close(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Listens with a connection of its own to `url`, opened at the first subscription and reconnected
 * after a loss; it LISTENs on a channel only while someone is subscribed to it, and passes on every
 * notification but those signed `ignored` (the storage's own). `subscribe` returns the
 * unsubscribe function. Without `url` it never connects and subscribers are never called.
 */
export function createListener(url: string | undefined, log: Log, ignored: string) {
  const listeners = new Map<string, Set<() => void>>();
  // The connected client and the channels it LISTENs on (undefined while connecting).
  let client: pg.Client | undefined;
  let listening: Set<string> | undefined;
  let closed = false;

  /** LISTENs or UNLISTENs so that the client hears exactly the channels someone wants. */
  function sync(): void {
    if (!client || !listening) return;
    for (const [channel, set] of listeners) {
      const wanted = set.size > 0;
      if (wanted === listening.has(channel)) continue;
      if (wanted) listening.add(channel);
      else listening.delete(channel);
      client
        .query(`${wanted ? "LISTEN" : "UNLISTEN"} ${channel}`)
        .catch((error: Error) => log("PostgreSQL LISTEN failed", error.message));
    }
  }

  async function connect(): Promise<void> {
    const wanted = [...listeners.values()].some((set) => set.size > 0);
    if (closed || client || !wanted || url === undefined) return;
    const next = new pg.Client({ connectionString: url, keepAlive: true });
    client = next;
    listening = undefined;
    const retry = (error: Error) => {
      if (client !== next) return;
      client = undefined;
      next.end().catch(() => {});
      if (!closed) {
        log("PostgreSQL listener lost; reconnecting", error.message);
        setTimeout(() => void connect(), RECONNECT_MS);
      }
    };
    next.on("error", retry);
    next.on("end", () => retry(new Error("connection ended")));
    next.on("notification", ({ channel, payload }) => {
      if (payload === ignored) return;
      for (const listener of listeners.get(channel) ?? []) listener();
    });
    try {
      await next.connect();
      if (client !== next) return;
      listening = new Set();
      sync();
    } catch (error) {
      retry(error as Error);
    }
  }

  return {
    /** Calls `listener` on each notification of `channel`. */
    subscribe(channel: string, listener: () => void): () => void {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set);
      set.add(listener);
      if (client) sync();
      else void connect();
      return () => {
        set.delete(listener);
        sync();
      };
    },
    async close(): Promise<void> {
      closed = true;
      const current = client;
      client = undefined;
      await current?.end().catch(() => {});
    },
  };
}
