/**
 * HTTP routes of the orders feature: thin handlers that take what they need from the request and
 * call the service.
 */
import { withHeaders } from "@elysiajs/openapi";
import { Elysia, t } from "elysia";
import { ErrorBody } from "../error-envelope.ts";
import { validationFailed } from "../errors.ts";
import { Gate } from "../gate.ts";
import { BODY_TIMEOUT_MS, parseJsonBody } from "../json-body.ts";
import { checkQueryString } from "../query-string.ts";
import {
  CreateOrderBody,
  ListOrdersQuery,
  OrderIdParams,
  OrderPage,
  OrderStatusView,
  OrderView,
} from "./model.ts";
import { cancelOrder, createOrder, getOrder, getOrderStatus, listOrders, type OrderDeps } from "./service.ts";

/** Refuses a query number that is not plain decimal digits. */
function checkDecimal(value: string | null, field: string): void {
  if (value !== null && !/^[0-9]{1,9}$/.test(value)) {
    throw validationFailed([{ field, message: "must be a whole number in decimal digits" }], "query");
  }
}

/** The `/orders` routes; a body must arrive within `bodyTimeoutMs` (BODY_TIMEOUT_MS). */
export function orderRoutes(deps: OrderDeps, { bodyTimeoutMs = BODY_TIMEOUT_MS } = {}) {
  const listings = new Gate(1);
  return (
    new Elysia({ name: "orders", prefix: "/orders", detail: { tags: ["Orders"] } })
      .post(
        "",
        async ({ body, set }) => {
          const result = await createOrder(deps, body);
          set.status = result.created ? 201 : 200;
          if (result.created) set.headers.location = `/orders/${encodeURIComponent(result.order.order_id)}`;
          return result.order;
        },
        {
          // Our parser always answers (or throws 413/415/400); the "application/json" entry after it
          // never runs and is there so the OpenAPI document lists the JSON request body.
          parse: [({ request }) => parseJsonBody(request, bodyTimeoutMs), "application/json"],
          body: CreateOrderBody,
          response: {
            200: OrderStatusView,
            201: withHeaders(OrderStatusView, {
              Location: t.String({ description: "Path of the new order: /orders/{order_id}" }),
            }),
            400: ErrorBody,
            408: ErrorBody,
            409: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            422: ErrorBody,
            503: ErrorBody,
          },
          detail: {
            operationId: "createOrder",
            summary: "Submit an order",
            description:
              "Stores the order as pending (committed before the answer) and queues it for processing. " +
              "order_id is the idempotency key: the same payload again answers 200 with the current " +
              "status; a different payload under the same order_id answers 409 ORDER_ID_CONFLICT.",
          },
        },
      )
      // Listings are the one expensive read: through the gate, one at a time, serialised here (a
      // Response skips Elysia's response check, about half the cost of a 500-order page).
      .get("", ({ query }) => listings.run(async () => Response.json(await listOrders(deps.store, query))), {
        // Before Elysia reads the query: decodable, each parameter once, and `limit` in decimal
        // digits (1e2 and 0x10 are refused, not read as numbers).
        transform: ({ request }) => {
          checkQueryString(request.url);
          checkDecimal(new URL(request.url).searchParams.get("limit"), "limit");
        },
        query: ListOrdersQuery,
        response: { 200: OrderPage, 400: ErrorBody, 422: ErrorBody },
        detail: { operationId: "listOrders", summary: "List orders in creation order (keyset pagination)" },
      })
      .get("/:order_id", ({ params }) => getOrder(deps.store, params.order_id), {
        params: OrderIdParams,
        response: { 200: OrderView, 404: ErrorBody },
        detail: { operationId: "getOrder", summary: "Get the whole order" },
      })
      .get("/:order_id/status", ({ params }) => getOrderStatus(deps.store, params.order_id), {
        params: OrderIdParams,
        response: { 200: OrderStatusView, 404: ErrorBody },
        detail: { operationId: "getOrderStatus", summary: "Get an order's status" },
      })
      .post("/:order_id/cancel", ({ params }) => cancelOrder(deps.store, params.order_id), {
        params: OrderIdParams,
        response: { 200: OrderView, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody },
        detail: {
          operationId: "cancelOrder",
          summary: "Cancel a pending order",
          description:
            "A pending order becomes cancelled; cancelling a cancelled order again is a no-op. " +
            "An order already processing, completed or failed answers 409 ORDER_NOT_CANCELLABLE.",
        },
      })
  );
}
