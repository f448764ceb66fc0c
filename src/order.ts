/**
 * The order vocabulary shared by the features and the storage adapters: the statuses and the plain
 * records that cross the storage ports. It imports nothing, so any adapter can use it without
 * depending on a feature (see docs/ARCHITECTURE.md, "Storage behind ports").
 */

/** Every status an order can be in, in lifecycle order: the one list every other one derives from. */
export const ORDER_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
/** One of `ORDER_STATUSES`. */
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * An order as storage returns it. `seq` is the insertion order (listing keyset and FIFO
 * tie-break); times are epoch milliseconds (UTC); money is integer cents.
 */
export type Order = {
  seq: number;
  orderId: string;
  userId: string;
  itemIds: string[];
  totalCents: number;
  status: OrderStatus;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  attempts: number;
  lastError: string | null;
};

/** A new order as the service computed it; storage adds the status and the queue columns. */
export type NewOrder = Pick<Order, "orderId" | "userId" | "itemIds" | "totalCents" | "createdAt">;
