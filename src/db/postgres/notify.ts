/**
 * Wake-ups between replicas with LISTEN/NOTIFY: a replica that stores new orders notifies the
 * channel, every replica listening claims at once instead of at its next poll (at most 1 s later).
 * Polling stays: a notification can be lost (a listener reconnecting), and retries fall due by time.
 * node-postgres does not re-LISTEN after a lost connection, so the listener reconnects itself.
 */
import pg from "pg";

const CHANNEL = "order_service_new_orders";
// At most one NOTIFY per replica this often: under load the creates of every event-loop turn would
// otherwise each send one, and NOTIFY takes a cluster-wide lock at commit.
const NOTIFY_EVERY_MS = 10;
const RECONNECT_MS = 1000;

/** Sends the wake-up, throttled; a failure is only logged (the other replicas poll anyway). */
export function createNotifier(pool: pg.Pool, log: (message: string, error: string) => void) {
  let last = 0;
  let scheduled = false;
  const send = () => {
    scheduled = false;
    last = Date.now();
    pool
      .query("SELECT pg_notify($1, '')", [CHANNEL])
      .catch((error: Error) => log("PostgreSQL notify failed", error.message));
  };
  return () => {
    if (scheduled) return;
    const wait = last + NOTIFY_EVERY_MS - Date.now();
    if (wait <= 0) send();
    else {
      scheduled = true;
      setTimeout(send, wait);
    }
  };
}

/**
 * Listens on the channel with a connection of its own, for as long as anyone is subscribed;
 * reconnects after a lost connection. `subscribe` returns the unsubscribe function.
 */
export function createListener(url: string, log: (message: string, error: string) => void) {
  const listeners = new Set<() => void>();
  let client: pg.Client | undefined;
  let closed = false;

  async function connect(): Promise<void> {
    if (closed || client || listeners.size === 0) return;
    const next = new pg.Client({ connectionString: url, keepAlive: true });
    client = next;
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
    next.on("notification", () => {
      for (const listener of listeners) listener();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      retry(error as Error);
    }
  }

  return {
    subscribe(listener: () => void): () => void {
      listeners.add(listener);
      void connect();
      return () => {
        listeners.delete(listener);
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
