/**
 * The events port on SQLite: the stream's reads on the read-only connection, and its wake-ups,
 * which the writer gives once per commit (storage.ts): with one process per file, its own commits
 * are all the news there is.
 */
import type { Adapter } from "./context.ts";

/** The events port over `adapter`. */
export function createEventStore({ reads, eventListeners }: Adapter) {
  return {
    readEvents: async (query: Parameters<typeof reads.readEvents>[0]) => reads.readEvents(query),
    latestEventSeq: async () => reads.latestEventSeq(),
    subscribe: (listener: () => void) => {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
  };
}
