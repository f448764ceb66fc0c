/**
 * HTTP routes of the orders feature: thin handlers that take what they need from the request and
 * call the service.
 */
import { withHeaders } from "@elysiajs/openapi";
import { Elysia, t } from "elysia";
import { OrderEventsView } from "../events/model.ts";
import { withCrossCheck } from "../kit/error-envelope.ts";
import {
  type AppError,
  invalidQuery,
  orderIdConflict,
  orderNotCancellable,
  orderNotFound,
  orderNotRetryable,
  overloaded,
  tooManyWatchers,
  totalMismatch,
  validationFailed,
} from "../kit/errors.ts";
import { Gate } from "../kit/gate.ts";
import { BODY_TIMEOUT_MS, JSON_BODY_ERRORS, parseJsonBody } from "../kit/json-body.ts";
import { limitInvalid } from "../kit/paging.ts";
import { checkQuery } from "../kit/query-string.ts";
import { contract, WRITER_DOWN } from "../kit/route-contract.ts";
import { retried } from "../lifecycle.ts";
import { ORDER_STATUSES, type OrderStatus } from "../records/order.ts";
import {
  CreateOrderBody,
  ListOrdersQuery,
  MAX_PAGE,
  MAX_WAIT_S,
  OrderIdParams,
  OrderPage,
  OrderStatusView,
  OrderView,
  StatusQuery,
} from "./model.ts";
import { amountRule, priceOrder } from "./pricing.ts";
import {
  cancelOrder,
  createOrder,
  getOrder,
  getOrderStatus,
  listOrderEvents,
  listOrders,
  type OrderDeps,
  retryOrder,
  waitForStatus,
} from "./service.ts";

const DEFAULT_WAIT_S = 30;

// The order and the limits the documented errors name (MAX_WATCHERS at its default).
const ORDER_ID = "order_456";
const MAX_WATCHERS = 10_000;

/** 422 naming `wait_for`: one of its names is not a status. */
const badWaitFor = (): AppError =>
  validationFailed(
    [{ field: "wait_for", message: `must be a comma-separated list of ${ORDER_STATUSES.join(", ")}` }],
    "query",
  );

/** The statuses of a `wait_for` list. */
function parseWaitFor(value: string): Set<OrderStatus> {
  const names = value.split(",").map((name) => name.trim());
  const known = new Set<string>(ORDER_STATUSES);
  if (names.some((name) => !known.has(name))) throw badWaitFor();
  return new Set(names as OrderStatus[]);
}

/** The `/orders` routes; a body must arrive within `bodyTimeoutMs` (BODY_TIMEOUT_MS). */
// biome-ignore lint/complexity/noExcessiveLinesPerFunction: a declarative route table, one entry per operation
export function orderRoutes(deps: OrderDeps, { bodyTimeoutMs = BODY_TIMEOUT_MS } = {}) {
  const listings = new Gate(1);
  // Rules across the body's fields (an amount's digits depend on its currency) are reported with
  // the schema's own problems.
  const createBody = withCrossCheck(
    CreateOrderBody,
    (value) => priceOrder(value, deps.defaultCurrency).problems,
  );
  return (
    new Elysia({ name: "orders", prefix: "/orders", detail: { tags: ["Orders"] } })
      .post(
        "",
        async ({ body, set, request }) => {
          const result = await createOrder(deps, body, deps.traceparentOf?.(request) ?? null);
          set.status = result.created ? 201 : 200;
          if (result.created) set.headers.location = `/orders/${encodeURIComponent(result.order.order_id)}`;
          return result.order;
        },
        {
          // Our parser always answers (or throws 413/415/400); the "application/json" entry after it
          // never runs and is there so the OpenAPI document lists the JSON request body.
          parse: [({ request }) => parseJsonBody(request, bodyTimeoutMs), "application/json"],
          body: createBody,
          ...contract({
            errors: [
              ...JSON_BODY_ERRORS,
              orderIdConflict(ORDER_ID),
              validationFailed([{ field: "total_amount", message: amountRule(2, "USD", "1e12") }], "body"),
              totalMismatch({
                currency: "EUR",
                given: "53.00",
                computed: "53.38",
                given_minor: 5300,
                computed_minor: 5338,
              }),
              overloaded(),
              WRITER_DOWN,
            ],
            response: {
              200: OrderStatusView,
              201: withHeaders(OrderStatusView, {
                Location: t.String({ description: "Path of the new order: /orders/{order_id}" }),
              }),
            },
            detail: {
              operationId: "createOrder",
              summary: "Submit an order",
              description:
                "Stores the order as pending (committed before the answer) and queues it for processing. " +
                "order_id is the idempotency key: the same payload again answers 200 with the current " +
                "status; a different payload under the same order_id answers 409 ORDER_ID_CONFLICT.",
            },
          }),
        },
      )
      // Listings are the one expensive read: through the gate, one at a time, serialised here (a
      // Response skips Elysia's response check, about half the cost of a 500-order page).
      .get("", ({ query }) => listings.run(async () => Response.json(await listOrders(deps.store, query))), {
        // Before Elysia reads the query: decodable, each parameter once, and `limit` in decimal
        // digits (1e2 and 0x10 are refused, not read as numbers).
        transform: ({ request }) => checkQuery(request.url, ["limit"]),
        query: ListOrdersQuery,
        ...contract({
          errors: [invalidQuery("user_id=%FF"), limitInvalid(MAX_PAGE)],
          response: { 200: OrderPage },
          detail: { operationId: "listOrders", summary: "List orders in creation order (keyset pagination)" },
        }),
      })
      .get("/:order_id", ({ params }) => getOrder(deps.store, params.order_id), {
        params: OrderIdParams,
        ...contract({
          errors: [orderNotFound(ORDER_ID)],
          response: { 200: OrderView },
          detail: { operationId: "getOrder", summary: "Get the whole order" },
        }),
      })
      .get(
        "/:order_id/status",
        ({ params, query, request, server }) => {
          if (query.wait_for === undefined) {
            if (query.timeout_s !== undefined) {
              throw validationFailed([{ field: "timeout_s", message: "needs wait_for" }], "query");
            }
            return getOrderStatus(deps.store, params.order_id);
          }
          const timeoutS = query.timeout_s ?? DEFAULT_WAIT_S;
          if (timeoutS > MAX_WAIT_S) {
            throw validationFailed(
              [{ field: "timeout_s", message: `must be a whole number from 0 to ${MAX_WAIT_S}` }],
              "query",
            );
          }
          const statuses = parseWaitFor(query.wait_for);
          // The connection is quiet while it waits: Bun's idle timeout must not cut it first.
          server?.timeout(request, timeoutS + 10);
          return waitForStatus(deps, params.order_id, statuses, timeoutS * 1000, request.signal);
        },
        {
          transform: ({ request }) => checkQuery(request.url, ["timeout_s"]),
          params: OrderIdParams,
          query: StatusQuery,
          ...contract({
            errors: [
              orderNotFound(ORDER_ID),
              tooManyWatchers(MAX_WATCHERS),
              invalidQuery("wait_for=%FF"),
              badWaitFor(),
            ],
            response: { 200: OrderStatusView },
            detail: {
              operationId: "getOrderStatus",
              summary: "Get an order's status, or wait for it (long-poll)",
              description:
                "Without wait_for: the status now. With wait_for=completed,failed (any statuses) and " +
                `timeout_s (0 to ${MAX_WAIT_S}, default ${DEFAULT_WAIT_S}): answers as soon as the order ` +
                "is in one of them, or after timeout_s with its status then; 200 either way.",
            },
          }),
        },
      )
      .get("/:order_id/events", ({ params }) => listOrderEvents(deps.store, params.order_id), {
        params: OrderIdParams,
        ...contract({
          errors: [orderNotFound(ORDER_ID)],
          response: { 200: OrderEventsView },
          detail: {
            operationId: "listOrderEvents",
            summary: "An order's history: every transition, oldest first",
          },
        }),
      })
      .post("/:order_id/retry", ({ params }) => retryOrder(deps, params.order_id), {
        params: OrderIdParams,
        ...contract({
          errors: [orderNotFound(ORDER_ID), orderNotRetryable(ORDER_ID, "completed"), WRITER_DOWN],
          response: { 200: OrderView },
          detail: {
            operationId: "retryOrder",
            summary: "Retry a failed order (operator action)",
            description:
              "A failed order goes back to pending with a fresh attempt budget (attempts back to 0) and " +
              `is processed again; recorded as a \`${retried(0).type}\` event. Any other status answers 409 ` +
              "ORDER_NOT_RETRYABLE.",
          },
        }),
      })
      .post(
        "/:order_id/cancel",
        async ({ params, set }) => {
          const { accepted, order } = await cancelOrder(deps, params.order_id);
          set.status = accepted ? 202 : 200;
          return order;
        },
        {
          params: OrderIdParams,
          ...contract({
            errors: [orderNotFound(ORDER_ID), orderNotCancellable(ORDER_ID, "completed"), WRITER_DOWN],
            response: {
              200: OrderView,
              // Still pending, cancel_requested_at set: its completed steps are undone first.
              202: OrderView,
            },
            detail: {
              operationId: "cancelOrder",
              summary: "Cancel a pending order",
              description:
                "A pending order becomes cancelled (200); cancelling a cancelled order again is a no-op. " +
                "A pending order with completed steps (a module's steps, after a failed attempt) answers 202: " +
                "its steps are compensated first, then it is cancelled (event cancel_completed). " +
                "An order already processing, completed or failed answers 409 ORDER_NOT_CANCELLABLE.",
            },
          }),
        },
      )
  );
}
