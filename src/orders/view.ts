/**
 * The public shape of an order (`GET /orders/:order_id`, listings, cancel and retry answers): the
 * seed's fields as they always were, plus its currency, its lines and its totals, each amount both
 * as a decimal string in the currency's digits and as integer minor units. A seed-shaped order
 * reads as one line per item id, quantity 1, unpriced.
 */

import { formatMinor, fromMinor, storedDigits } from "../kit/currency.ts";
import { type Order, type StepEntry, stepStates } from "../records/order.ts";
import type { OrderView, StepView } from "./model.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Each step as it stands now (its latest entry), with when it completed and its result. */
function stepViews(entries: StepEntry[]): StepView[] {
  return [...stepStates(entries)].map(([name, { latest, completed }]) => ({
    name,
    status: latest.status,
    attempt: latest.attempt,
    completed_at: completed ? new Date(completed.at).toISOString() : null,
    result: completed?.result ?? null,
    ...(latest.status === "compensated" ? { compensated_at: new Date(latest.at).toISOString() } : {}),
    ...(latest.error === undefined ? {} : { error: latest.error }),
  }));
}

/** The public shape of an order. */
export function toOrderView(order: Order): OrderView {
  const digits = storedDigits(order.currency);
  const money = (minor: number) => ({ amount: formatMinor(minor, digits), minor });
  const { cart } = order;
  const items = cart
    ? cart.lines.map(({ sku, name, quantity, unitPrice }) => ({
        sku,
        ...(name === undefined ? {} : { name }),
        quantity,
        unit_price: money(unitPrice),
        line_total: money(quantity * unitPrice),
      }))
    : order.itemIds.map((sku) => ({ sku, quantity: 1, unit_price: null, line_total: null }));
  const subtotal = cart ? cart.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0) : null;
  return {
    order_id: order.orderId,
    user_id: order.userId,
    item_ids: order.itemIds,
    total_amount: fromMinor(order.totalMinor, digits),
    currency: order.currency,
    items,
    totals: {
      subtotal: subtotal === null ? null : money(subtotal),
      shipping: money(cart?.shipping ?? 0),
      tax: money(cart?.tax ?? 0),
      discount: money(cart?.discount ?? 0),
      total: money(order.totalMinor),
    },
    status: order.status,
    created_at: new Date(order.createdAt).toISOString(),
    started_at: iso(order.startedAt),
    completed_at: iso(order.completedAt),
    attempts: order.attempts,
    last_error: order.lastError,
    ...(order.cancelRequestedAt === null
      ? {}
      : { cancel_requested_at: new Date(order.cancelRequestedAt).toISOString() }),
    ...(order.steps.length === 0 ? {} : { steps: stepViews(order.steps) }),
  };
}
