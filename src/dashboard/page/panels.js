/*
 * The dashboard's panels that are not charts: the figures, the backlog by status, the latency
 * percentiles and the latest failed orders, each with a Retry button (the webhooks card is
 * webhooks.js's). Elements are made once and
 * updated in place on every poll, so nothing flickers and a button is never replaced under the
 * pointer; `data-total` on the total is what the tests read.
 */
import { hasKey, request } from "./api.js";
import { clock, formatCreated, formatMs, integer } from "./format.js";

const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];

const $ = (id) => document.getElementById(id);

/** The "Now" figures and the latency table. */
export const drawFigures = (data) => {
  const total = $("orders-total");
  total.textContent = integer.format(data.orders.total);
  total.dataset.total = String(data.orders.total);
  $("slots").textContent = `${integer.format(data.slots.busy)} of ${integer.format(data.slots.capacity)}`;
  $("replicas").textContent = integer.format(data.replicas);
  $("retries-failures").textContent =
    `${integer.format(data.retries_total)} / ${integer.format(data.failures_total)}`;
  // The oldest event kept (retention, EVENT_RETENTION_DAYS); none yet: "—".
  const oldest = data.history.oldest_event_at;
  $("oldest-event").textContent = oldest === null ? "—" : formatCreated(oldest);
  $("oldest-event").dataset.at = oldest ?? "";
  $("latency-window").textContent = `(last ${integer.format(data.window_s)} s)`;
  for (const p of ["p50", "p95", "p99"]) {
    $(`wait-${p}`).textContent = formatMs(data.queue_wait_ms[p]);
    $(`proc-${p}`).textContent = formatMs(data.processing_ms[p]);
  }
};

const backlogRows = new Map();

/** One row per status, always in the same order: its name, a bar of its share and its count. */
export const drawBacklog = (data) => {
  const list = $("backlog");
  const total = Math.max(1, data.orders.total);
  for (const status of STATUSES) {
    let row = backlogRows.get(status);
    if (!row) {
      const item = document.createElement("li");
      item.className = `status status-${status}`;
      const name = document.createElement("span");
      name.className = "status-name";
      name.textContent = status;
      const track = document.createElement("span");
      track.className = "bar-track";
      const bar = document.createElement("span");
      bar.className = "bar";
      track.append(bar);
      const count = document.createElement("span");
      count.className = "status-count";
      item.append(name, track, count);
      list.append(item);
      row = { bar, count };
      backlogRows.set(status, row);
    }
    const n = data.orders.by_status[status] ?? 0;
    row.count.textContent = integer.format(n);
    // At least a sliver for any non-zero count, so "a few" never looks like "none".
    row.bar.style.width = n === 0 ? "0" : `${Math.max(1, (100 * n) / total)}%`;
  }
};

// ---- Latest failed orders, with a Retry button each ----

/** Rows by order id, kept across polls so a button being pressed is never replaced under the pointer. */
const failureRows = new Map();

/**
 * The operator's retry: body-less POST; 200 pending again, 409 no longer failed. On a 401,
 * `needKey(refused)` asks for a key (`refused`: the one sent was wrong).
 */
const retry = async (orderId, button, outcome, needKey) => {
  button.disabled = true;
  outcome.textContent = "Retrying…";
  try {
    const res = await request(`/orders/${encodeURIComponent(orderId)}/retry`, { method: "POST" });
    if (res.status === 200) outcome.textContent = `Retried at ${clock.format(new Date())}`;
    else if (res.status === 409) outcome.textContent = "Not failed any more";
    else if (res.status === 401) {
      outcome.textContent = "Needs an API key";
      needKey(hasKey());
    } else outcome.textContent = `Retry refused (HTTP ${res.status})`;
  } catch {
    outcome.textContent = "Retry not sent: no connection";
  } finally {
    button.disabled = false;
  }
};

/** How many of an id's last characters are always shown. */
const ID_TAIL = 6;

/**
 * Shows `id` in `td`, cut in the middle when it is too long for its column (panels.css): the start
 * shortened with an ellipsis, the last ID_TAIL characters kept, because ids that share a start (a
 * load test's run, a date) differ at their end. The whole id stays the cell's text, so copying the
 * cell copies all of it, and is its title.
 */
export const showId = (td, id) => {
  if (td.title === id) return;
  const head = document.createElement("span");
  head.className = "id-head";
  head.textContent = id.slice(0, -ID_TAIL);
  const tail = document.createElement("span");
  tail.className = "id-tail";
  tail.textContent = id.slice(-ID_TAIL);
  const box = document.createElement("span");
  box.className = "id";
  box.append(head, tail);
  td.replaceChildren(box);
  td.title = id;
};

const newFailureRow = (orderId, needKey) => {
  const tr = document.createElement("tr");
  tr.dataset.orderId = orderId;
  const cells = ["order", "user", "attempts", "error", "created", "action"].map((name) => {
    const td = document.createElement("td");
    td.className = `col-${name}`;
    tr.append(td);
    return td;
  });
  showId(cells[0], orderId);
  cells[2].classList.add("num");
  // The error is shown in two lines at most (panels.css), the whole of it in the title.
  const error = document.createElement("span");
  error.className = "error-text";
  cells[3].append(error);
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Retry";
  button.setAttribute("aria-label", `Retry order ${orderId}`);
  const outcome = document.createElement("span");
  outcome.className = "outcome";
  outcome.setAttribute("role", "status");
  cells[5].append(button, outcome);
  button.addEventListener("click", () => retry(orderId, button, outcome, needKey));
  return { tr, cells, error };
};

/**
 * The failures table, in the server's order: rows are added, moved, updated and removed, never
 * rebuilt. `needKey(refused)` is called when a Retry is refused for want of a key.
 */
export const drawFailures = (failures, needKey) => {
  const body = $("failures");
  const seen = new Set();
  failures.forEach((failure, i) => {
    seen.add(failure.order_id);
    let row = failureRows.get(failure.order_id);
    if (!row) {
      row = newFailureRow(failure.order_id, needKey);
      failureRows.set(failure.order_id, row);
    }
    showId(row.cells[1], failure.user_id);
    row.cells[2].textContent = integer.format(failure.attempts);
    // A module's steps: the step it failed in, and whether the completed ones were undone.
    const undone = { compensated: "steps undone", compensation_failed: "undoing gave up" };
    const notes = [failure.failed_step && `in ${failure.failed_step}`, undone[failure.compensation]].filter(
      Boolean,
    );
    row.error.textContent = (failure.last_error ?? "—") + (notes.length > 0 ? ` (${notes.join("; ")})` : "");
    row.cells[3].title = failure.last_error ?? "";
    row.cells[4].textContent = formatCreated(failure.created_at);
    row.cells[4].title = failure.created_at;
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] ?? null);
  });
  for (const [orderId, row] of failureRows) {
    if (!seen.has(orderId)) {
      row.tr.remove();
      failureRows.delete(orderId);
    }
  }
  $("failures-empty").hidden = failures.length > 0;
};
