/**
 * Request and response models of the orders API. Each is a `t` schema constant with a type of the
 * same name; Elysia validates with them and the OpenAPI document is generated from them.
 */
import { t } from "elysia";
import { DEFAULT_PAGE, limitRule } from "../kit/paging.ts";
import { ORDER_STATUSES, STEP_STATUSES, type StepStatus } from "../records/order.ts";
import { Amount, LineItem, LineView, MAX_LINES, MoneyView, Text } from "./fields.ts";

const ID_PATTERN = "^[A-Za-z0-9._:-]+$";

/** Largest page of `GET /orders`. */
export const MAX_PAGE = 500;

// A union of literals, not t.UnionEnum: Elysia fills an absent optional UnionEnum query parameter
// with its first value, which would silently filter listings to "pending".
// Unsafe only gives the union its static type (a .map() over the list would widen it to string).
export const OrderStatus = t.Unsafe<(typeof ORDER_STATUSES)[number]>(
  t.Union(
    ORDER_STATUSES.map((status) => t.Literal(status)),
    {
      description: "pending → processing → completed; failed after MAX_ATTEMPTS; cancelled while pending",
      error: `must be one of ${ORDER_STATUSES.join(", ")}`,
    },
  ),
);
export type OrderStatus = typeof OrderStatus.static;

export const CreateOrderBody = t.Object(
  {
    user_id: Text("The customer's id"),
    order_id: t.String({
      minLength: 1,
      maxLength: 128,
      pattern: ID_PATTERN,
      description: "The client's idempotency key",
      error: "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
    }),
    item_ids: t.Optional(
      t.Array(Text("An item's id"), {
        minItems: 1,
        maxItems: 1000,
        description:
          "The seed's shape: item ids, no prices (quantity 1 each); with total_amount, without items",
        error: "must be an array of 1 to 1,000 item ids",
      }),
    ),
    items: t.Optional(
      t.Array(LineItem, {
        minItems: 1,
        maxItems: MAX_LINES,
        description: "Priced lines: the service computes the totals from them; without item_ids",
        error: `must be an array of 1 to ${MAX_LINES} lines`,
      }),
    ),
    currency: t.Optional(
      t.String({
        pattern: "^[A-Z]{3}$",
        description: "Active ISO 4217 code of every amount; DEFAULT_CURRENCY (USD) when absent",
        error: "must be an active ISO 4217 code with a minor unit, such as USD, EUR or JPY",
      }),
    ),
    shipping_amount: t.Optional(Amount("With items: added to the lines")),
    tax_amount: t.Optional(Amount("With items: added to the lines")),
    discount_amount: t.Optional(Amount("With items: taken off the lines, shipping and tax")),
    total_amount: t.Optional(
      Amount(
        "With item_ids: required, at most 1e12. With items: optional, and when given it must equal " +
          "the sum of quantity × unit_price + shipping + tax − discount exactly (else 422 TOTAL_MISMATCH)",
      ),
    ),
  },
  {
    additionalProperties: false,
    error:
      "must be a JSON object with user_id, order_id, item_ids and total_amount, or items and optionally " +
      "currency, shipping_amount, tax_amount, discount_amount and total_amount",
    examples: [
      { user_id: "user_123", order_id: "order_456", item_ids: ["item_1", "item_2"], total_amount: 150.99 },
      {
        user_id: "user_123",
        order_id: "order_457",
        currency: "EUR",
        items: [
          { sku: "TSHIRT-M", quantity: 2, unit_price: 19.99, name: "T-shirt, medium" },
          { sku: "MUG", quantity: 1, unit_price: 8.5 },
        ],
        shipping_amount: 4.9,
        total_amount: 53.38,
      },
    ],
  },
);
export type CreateOrderBody = typeof CreateOrderBody.static;

export const OrderIdParams = t.Object({
  order_id: t.String({ description: "The order's id", examples: ["order_456"] }),
});

export const OrderStatusView = t.Object(
  { order_id: t.String(), status: OrderStatus },
  { examples: [{ order_id: "order_456", status: "pending" }] },
);
export type OrderStatusView = typeof OrderStatusView.static;

const Timestamp = t.Nullable(t.String({ format: "date-time", description: "ISO-8601 UTC" }));

/** A step of processing that completed, and whether it was undone (docs/STEPS.md). */
export const StepView = t.Object({
  name: t.String(),
  status: t.Unsafe<StepStatus>(
    t.Union(
      STEP_STATUSES.map((status) => t.Literal(status)),
      {
        description:
          "completed; failed (on the last attempt allowed: the order failed in this step); compensated (undone after the order failed for good); compensation_failed (its compensate gave up: an operator's retry tries it again)",
      },
    ),
  ),
  attempt: t.Integer({ description: "The order's attempt that recorded its status" }),
  completed_at: t.Nullable(
    t.String({ format: "date-time", description: "ISO-8601 UTC; null for a step that never completed" }),
  ),
  result: t.Unknown({
    description: "What the step returned (JSON), handed to the later steps; null if none",
  }),
  compensated_at: t.Optional(t.String({ format: "date-time", description: "ISO-8601 UTC" })),
  error: t.Optional(t.String({ description: "Why it failed, or why its compensate gave up" })),
});
export type StepView = typeof StepView.static;

export const OrderView = t.Object(
  {
    order_id: t.String(),
    user_id: t.String(),
    item_ids: t.Array(t.String(), { description: "As sent; for an order with items, the SKU of each line" }),
    total_amount: t.Number({ description: "The total as a JSON number in the currency's units" }),
    currency: t.String({ description: "ISO 4217 code of every amount" }),
    items: t.Array(LineView),
    totals: t.Object({
      subtotal: t.Nullable(MoneyView, { description: "Σ line_total; null on a seed-shaped order" }),
      shipping: MoneyView,
      tax: MoneyView,
      discount: MoneyView,
      total: MoneyView,
    }),
    status: OrderStatus,
    created_at: t.String({ format: "date-time", description: "ISO-8601 UTC" }),
    started_at: Timestamp,
    completed_at: Timestamp,
    attempts: t.Integer({ description: "Processing attempts started so far" }),
    last_error: t.Nullable(t.String({ description: "Why the latest attempt failed" })),
    cancel_requested_at: t.Optional(
      t.String({
        format: "date-time",
        description:
          "Set when a client cancelled it with completed steps: they are undone first, then it is cancelled",
      }),
    ),
    steps: t.Optional(
      t.Array(StepView, {
        description:
          "When PROCESS_ORDER_MODULE exports steps: each step that completed, in order, as it stands now (completed, compensated or compensation_failed). A completed step never runs again for this order.",
      }),
    ),
  },
  {
    examples: [
      {
        order_id: "order_456",
        user_id: "user_123",
        item_ids: ["item_1", "item_2"],
        total_amount: 150.99,
        currency: "USD",
        items: [
          { sku: "item_1", quantity: 1, unit_price: null, line_total: null },
          { sku: "item_2", quantity: 1, unit_price: null, line_total: null },
        ],
        totals: {
          subtotal: null,
          shipping: { amount: "0.00", minor: 0 },
          tax: { amount: "0.00", minor: 0 },
          discount: { amount: "0.00", minor: 0 },
          total: { amount: "150.99", minor: 15099 },
        },
        status: "completed",
        created_at: "2026-11-27T09:00:00.000Z",
        started_at: "2026-11-27T09:00:00.004Z",
        completed_at: "2026-11-27T09:00:00.105Z",
        attempts: 1,
        last_error: null,
      },
    ],
  },
);
export type OrderView = typeof OrderView.static;

export const ListOrdersQuery = t.Object(
  {
    status: t.Optional(OrderStatus),
    user_id: t.Optional(t.String({ maxLength: 128, error: "must be a string of at most 128 characters" })),
    // The range is checked by the service: Elysia reports a range error of a coerced query number
    // without the parameter's name.
    limit: t.Optional(
      t.Integer({
        description: `1 to ${MAX_PAGE}; ${DEFAULT_PAGE} when absent`,
        error: limitRule(MAX_PAGE),
      }),
    ),
    cursor: t.Optional(
      t.String({ description: "next_cursor of the previous page", error: "must be a string" }),
    ),
  },
  { additionalProperties: false, error: "allowed query parameters: status, user_id, limit, cursor" },
);
export type ListOrdersQuery = typeof ListOrdersQuery.static;

export const OrderPage = t.Object({
  orders: t.Array(OrderView),
  next_cursor: t.Nullable(
    t.String({ description: "Pass as cursor for the next page; null on the last page" }),
  ),
});
export type OrderPage = typeof OrderPage.static;

/** Longest long-poll `GET /orders/:order_id/status` waits. */
export const MAX_WAIT_S = 60;

export const StatusQuery = t.Object(
  {
    wait_for: t.Optional(
      t.String({
        description:
          "Long-poll: comma-separated statuses (e.g. completed,failed). Answers at once if the order " +
          "is in one of them, else when it gets there, else after timeout_s with its current status",
        examples: ["completed,failed,cancelled"],
        error: "must be a comma-separated list of statuses",
      }),
    ),
    timeout_s: t.Optional(
      t.Integer({
        description: `With wait_for: seconds to wait, 0 to ${MAX_WAIT_S}; 30 when absent`,
        error: `must be a whole number from 0 to ${MAX_WAIT_S}`,
      }),
    ),
  },
  { additionalProperties: false, error: "allowed query parameters: wait_for, timeout_s" },
);
export type StatusQuery = typeof StatusQuery.static;
