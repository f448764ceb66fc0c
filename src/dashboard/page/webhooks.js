/*
 * The webhooks card: the subscriptions whose receivers are behind, furthest behind first, the
 * lagging ones (by the server's rule, the one GET /webhooks applies) highlighted and said so in
 * words; one calm line while every receiver keeps pace. Rows are kept by subscription id across
 * polls, as the failures table's are. `data-lagging` and `data-pending` on the card, and
 * `data-webhook-id` on each row, are what the tests read.
 */
import { formatAge, integer } from "./format.js";
import { showId } from "./panels.js";

const $ = (id) => document.getElementById(id);

/** "1 delivery", "3 deliveries". */
const count = (n, one, many) => `${integer.format(n)} ${n === 1 ? one : many}`;

/** The card's one line: calm, pending but in time, or who lags and by which rule. */
const summarize = (webhooks) => {
  if (webhooks.pending === 0) return "Every receiver keeps pace: no delivery pending.";
  const pending =
    `${count(webhooks.pending, "delivery", "deliveries")} pending for ` +
    count(webhooks.subscriptions_behind, "subscription", "subscriptions");
  const rule = `an undelivered event older than ${formatAge(webhooks.lagging_after_ms)}`;
  const lagging = webhooks.subscriptions_lagging;
  const shown =
    webhooks.behind.length < webhooks.subscriptions_behind
      ? ` The ${integer.format(webhooks.behind.length)} furthest behind are listed.`
      : "";
  if (lagging === 0) return `${pending}, none lagging (lagging: ${rule}).${shown}`;
  return `${count(lagging, "subscription", "subscriptions")} lagging (${rule}); ${pending}.${shown}`;
};

/** Rows by subscription id. */
const rows = new Map();

const newRow = (id) => {
  const tr = document.createElement("tr");
  tr.dataset.webhookId = id;
  // What an operator looks for first comes first: on a phone the table scrolls sideways.
  const cells = ["origin", "state", "age", "pending", "subscription"].map((name) => {
    const td = document.createElement("td");
    td.className = `col-${name}`;
    tr.append(td);
    return td;
  });
  showId(cells[4], id);
  cells[2].classList.add("num");
  cells[3].classList.add("num");
  return { tr, cells };
};

/** Draws the `webhooks` section of /dashboard/data: the summary, the card's state and the rows. */
export const drawWebhooks = (webhooks) => {
  const card = $("webhooks");
  card.classList.toggle("alert", webhooks.subscriptions_lagging > 0);
  card.dataset.lagging = String(webhooks.subscriptions_lagging);
  card.dataset.pending = String(webhooks.pending);
  $("webhooks-summary").textContent = summarize(webhooks);
  const body = $("webhooks-behind");
  const seen = new Set();
  webhooks.behind.forEach((subscription, i) => {
    seen.add(subscription.id);
    let row = rows.get(subscription.id);
    if (!row) {
      row = newRow(subscription.id);
      rows.set(subscription.id, row);
    }
    const [origin, state, age, pending] = row.cells;
    // Cut in the middle when narrow, as the ids are: the end of an origin is its port.
    showId(origin, subscription.origin);
    pending.textContent = integer.format(subscription.pending);
    age.textContent = formatAge(subscription.oldest_age_ms);
    state.textContent = subscription.lagging ? "▲ Lagging" : "Keeping pace";
    row.tr.classList.toggle("lagging", subscription.lagging);
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] ?? null);
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  $("webhooks-table").hidden = webhooks.behind.length === 0;
};
