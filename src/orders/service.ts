/**
 * Order use cases. Plain functions that know nothing of HTTP or of the database: they take the
 * orders port (store.ts) and the clock, throw `AppError`s, and return plain data for the routes.
 */

import type { EventFeed } from "../events/feed.ts";
import { type OrderEventsView, toEventView } from "../events/model.ts";
import { formatMinor } from "../kit/currency.ts";
import { orderIdConflict, orderNotFound, totalMismatch, validationFailed } from "../kit/errors.ts";
import { pageOf, pageRequest } from "../kit/paging.ts";
import * as lifecycle from "../lifecycle.ts";
import type { Cart, NewOrder, OrderStatus } from "../records/order.ts";
import {
  type CreateOrderBody,
  type ListOrdersQuery,
  MAX_PAGE,
  type OrderPage,
  type OrderStatusView,
  type OrderView,
} from "./model.ts";

export { cancelOrder, retryOrder } from "./changes.ts";

import { type Priced, priceOrder } from "./pricing.ts";
import type { OrderStore } from "./store.ts";
import { toOrderView } from "./view.ts";

// Every new order starts with the same transition: made once, not per request.
const CREATED = lifecycle.created();

/** What the orders use cases need. */
export type OrderDeps = {
  store: OrderStore;
  now: () => number;
  /** Called after a new order is committed, so the queue picks it up without polling. */
  onOrderStored: (order: NewOrder) => void;
  /** ISO 4217 code of an order that names none (DEFAULT_CURRENCY). */
  defaultCurrency: string;
  /** Attempts an order gets (MAX_ATTEMPTS); as many again undo the completed steps of one that failed. */
  maxAttempts: number;
  /** Called after an operator's retry made a failed order pending again. */
  onOrderRetried: () => void;
  /** The live events, for long-polls. */
  feed: EventFeed;
  /** The trace context a request's order keeps (tracing on: its span's traceparent), else null. */
  traceparentOf?: (request: Request) => string | null;
};

/** The outcome of a create: a new order (201) or an identical replay of an existing one (200). */
export type CreateResult = { created: boolean; order: OrderStatusView };

/** Whether two orders under one order_id are the same order (an idempotent replay). */
function sameOrder(a: NewOrder, b: NewOrder): boolean {
  return (
    a.userId === b.userId &&
    a.currency === b.currency &&
    a.totalMinor === b.totalMinor &&
    sameList(a.itemIds, b.itemIds, (x, y) => x === y) &&
    sameCart(a.cart, b.cart)
  );
}

function sameCart(a: Cart | null, b: Cart | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.shipping === b.shipping &&
    a.tax === b.tax &&
    a.discount === b.discount &&
    sameList(
      a.lines,
      b.lines,
      (x, y) =>
        x.sku === y.sku && x.quantity === y.quantity && x.unitPrice === y.unitPrice && x.name === y.name,
    )
  );
}

const sameList = <T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean) =>
  a.length === b.length && a.every((x, i) => same(x, b[i] as T));

/**
 * Stores a new pending order, committed before this resolves. `order_id` is the idempotency key:
 * storage's unique key decides, so concurrent duplicates create one order; an identical replay
 * returns the existing order, a different payload under the same id is a 409.
 */
export async function createOrder(
  deps: OrderDeps,
  body: CreateOrderBody,
  traceParent: string | null = null,
): Promise<CreateResult> {
  const order: NewOrder = {
    orderId: body.order_id,
    userId: body.user_id,
    ...priced(body, deps.defaultCurrency),
    createdAt: deps.now(),
    traceParent,
  };
  const outcome = await deps.store.createOrder(order, CREATED);
  if (outcome.created) {
    deps.onOrderStored(order);
    return { created: true, order: { order_id: order.orderId, status: "pending" } };
  }
  const { existing } = outcome;
  if (!sameOrder(existing, asReplayOf(existing, order, body))) throw orderIdConflict(order.orderId);
  return { created: false, order: { order_id: existing.orderId, status: existing.status } };
}

/**
 * The new order as a replay of `existing`: a body that names no currency meant the default of its
 * time, so it is priced again in the stored order's currency (DEFAULT_CURRENCY may have changed
 * since, or differ between replicas). A body that does not fit that currency is another order.
 */
function asReplayOf(existing: NewOrder, order: NewOrder, body: CreateOrderBody): NewOrder {
  if (body.currency !== undefined || existing.currency === order.currency) return order;
  const pricing = priceOrder(body, existing.currency);
  return "priced" in pricing ? { ...order, ...pricing.priced } : order;
}

/** The order's currency, total and lines, or the 422 that says why they cannot be. */
function priced(body: CreateOrderBody, defaultCurrency: string): Priced {
  const pricing = priceOrder(body, defaultCurrency);
  if ("priced" in pricing) return pricing.priced;
  if ("mismatch" in pricing) {
    const { currency, digits, given, computed } = pricing.mismatch;
    throw totalMismatch({
      currency,
      given: formatMinor(given, digits),
      computed: formatMinor(computed, digits),
      given_minor: given,
      computed_minor: computed,
    });
  }
  // With no problem named, the body failed a rule its schema holds, which Elysia checked already.
  const problems =
    pricing.problems.length > 0 ? pricing.problems : [{ field: "body", message: "is invalid" }];
  throw validationFailed(problems, "body");
}

/** The order's id and status; 404 when unknown. */
export async function getOrderStatus(store: OrderStore, orderId: string): Promise<OrderStatusView> {
  const found = await store.findOrderStatus(orderId);
  if (!found) throw orderNotFound(orderId);
  return { order_id: found.orderId, status: found.status };
}

/** The whole order; 404 when unknown. */
export async function getOrder(store: OrderStore, orderId: string): Promise<OrderView> {
  const order = await store.findOrder(orderId);
  if (!order) throw orderNotFound(orderId);
  return toOrderView(order);
}

/** The order's events, oldest first; 404 when unknown. */
export async function listOrderEvents(store: OrderStore, orderId: string): Promise<OrderEventsView> {
  const events = await store.listOrderEvents(orderId);
  if (events.length === 0 && !(await store.findOrderStatus(orderId))) throw orderNotFound(orderId);
  // Every order's history starts with its creation; retention deletes the oldest events first.
  const pruned = events[0]?.type !== lifecycle.created().type;
  return { order_id: orderId, events: events.map(toEventView), events_pruned: pruned };
}

/**
 * Long-poll: the order's status once it is one of `statuses`, at once if it already is, else when
 * a transition takes it there, else after `timeoutMs` (or when the client goes away) as it is then.
 * The watch starts before the status is read, so a transition between the two is not missed.
 */
export async function waitForStatus(
  deps: OrderDeps,
  orderId: string,
  statuses: ReadonlySet<OrderStatus>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<OrderStatusView> {
  const arrival = Promise.withResolvers<OrderStatus | undefined>();
  const giveUp = () => arrival.resolve(undefined);
  const watch = await deps.feed.watch({
    filter: { orderId },
    deliver: (event) => {
      if (statuses.has(event.toStatus)) arrival.resolve(event.toStatus);
    },
    // The service is shutting down: answer with the status now.
    end: giveUp,
  });
  const timer = setTimeout(giveUp, timeoutMs);
  signal?.addEventListener("abort", giveUp, { once: true });
  // The client may have left while the feed was starting.
  if (signal?.aborted) giveUp();
  try {
    const current = await getOrderStatus(deps.store, orderId);
    if (statuses.has(current.status)) return current;
    const status = await arrival.promise;
    return status ? { order_id: orderId, status } : await getOrderStatus(deps.store, orderId);
  } finally {
    watch.stop();
    clearTimeout(timer);
    signal?.removeEventListener("abort", giveUp);
  }
}

/** One page of orders in creation order; the cursor is stable while new orders arrive. */
export async function listOrders(store: OrderStore, query: ListOrdersQuery): Promise<OrderPage> {
  const { limit, afterSeq, fetch } = pageRequest(query, MAX_PAGE);
  const rows = await store.listOrders({
    status: query.status,
    userId: query.user_id,
    afterSeq,
    limit: fetch,
  });
  const { page, nextCursor } = pageOf(rows, limit);
  return { orders: page.map(toOrderView), next_cursor: nextCursor };
}
