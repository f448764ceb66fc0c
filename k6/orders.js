// @ts-check
/*
 * k6 load test for the order service.
 *
 *   k6 run k6/orders.js                                   1,000 orders at once, then wait for all to complete
 *   SCENARIO=soak RATE=50 DURATION=10m k6 run k6/orders.js   a constant arrival rate of orders instead
 *   docker compose --profile load run --rm k6             the same with the grafana/k6 image (docs/DOCKER.md)
 *
 * Environment (all optional):
 *   BASE_URL              service address                                  http://localhost:3000
 *   SCENARIO              burst | soak | items (the burst, orders of 1-20 priced lines in USD, EUR, JPY, KWD)   burst
 *   ORDERS                burst: orders submitted at once, one VU each     1000
 *   RATE, DURATION        soak: orders per second, for how long            50, 5m
 *   COMPLETION_TIMEOUT_S  after the last POST, seconds allowed for every order to complete   60
 *   POST_P95_MS           bound on the p95 latency of POST /orders, in ms  500
 *   WAIT                  longpoll | poll: how teardown waits for completion   longpoll
 *   POLL_INTERVAL_S       WAIT=poll: pause between status polls, in seconds   0.5
 *   SUMMARY_JSON          also write k6's raw summary data to this file    (unset)
 *   API_KEY               sent as X-API-Key when the service has API_KEYS on   (unset)
 *
 * How it decides:
 *   setup()     checks GET /ready, takes a baseline of GET /metrics and picks a run id, so the order ids of
 *               this run ("<run id>-<n>") never collide with earlier runs against the same database.
 *   createOrder one POST /orders per iteration: in "burst" every one of ORDERS VUs sends exactly one order,
 *               all at the same moment; in "soak" k6 starts RATE orders per second for DURATION.
 *   teardown()  waits for completion, after every POST has finished: the verdict comes from the status
 *               of each of this run's own orders. WAIT=longpoll asks each order's status with
 *               wait_for=completed,failed,cancelled (answered when the order gets there, one request per
 *               order when all goes well); WAIT=poll asks every POLL_INTERVAL_S until it is final, as a
 *               client without long-poll must (kept to compare the request counts).
 *   thresholds  fail the run (non-zero exit) on any failed request or check, on a POST p95 over
 *               POST_P95_MS, or when any order of this run has not completed in time.
 *
 * Plain ES2017 on purpose (no optional chaining, no ??, no object spread, no class fields) so it runs on
 * k6 v0.45 and later; type-checked with `tsc --noEmit -p k6` against @types/k6.
 */
import { check, fail, sleep } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import { Counter, Gauge } from "k6/metrics";

/**
 * @typedef {{ total: number, pending: number, processing: number, completed: number, failed: number,
 *   cancelled: number }} MetricsSnapshot
 * @typedef {{ runId: string, startedAt: number, baseline: MetricsSnapshot | null }} SetupData
 */

/**
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
function envNumber(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === "") {
    return fallback;
  }
  const value = Number(raw);
  if (!(value > 0)) {
    throw new Error(`${name} must be a positive number, got '${raw}'`);
  }
  return value;
}

/**
 * Seconds in a k6 duration such as "90s", "5m", "1h30m".
 * @param {string} text
 * @returns {number}
 */
function durationSeconds(text) {
  const units = { ms: 0.001, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let seconds = 0;
  let consumed = 0;
  let match = re.exec(text);
  while (match !== null) {
    seconds += Number(match[1]) * units[/** @type {"ms" | "s" | "m" | "h"} */ (match[2])];
    consumed += match[0].length;
    match = re.exec(text);
  }
  if (consumed !== text.length || seconds <= 0) {
    throw new Error(`DURATION must look like 90s, 5m or 1h30m, got '${text}'`);
  }
  return seconds;
}

const BASE_URL = (__ENV.BASE_URL || "http://localhost:3000").replace(/\/+$/, "");
const SCENARIO = __ENV.SCENARIO || "burst";
if (SCENARIO !== "burst" && SCENARIO !== "soak" && SCENARIO !== "items") {
  throw new Error(`SCENARIO must be burst, soak or items, got '${SCENARIO}'`);
}
// "items": the burst, each order with 1 to 20 priced lines in one of several currencies.
const ITEMS = SCENARIO === "items";
const BURST = SCENARIO === "burst" || ITEMS;
const ORDERS = Math.floor(envNumber("ORDERS", 1000));
const RATE = Math.floor(envNumber("RATE", 50));
const DURATION = __ENV.DURATION || "5m";
const COMPLETION_TIMEOUT_S = envNumber("COMPLETION_TIMEOUT_S", 60);
// Measured for 1,000 simultaneous POSTs on a 2-core machine (client latency including connect): p95
// 66-113 ms against `bun src/main.ts`, 93-158 ms through Docker's port mapping. k6's http_req_duration
// leaves out connection set-up, so 500 ms is over 3x the worst of those; see docs/DOCKER.md.
const POST_P95_MS = envNumber("POST_P95_MS", 500);
const POLL_INTERVAL_S = envNumber("POLL_INTERVAL_S", 0.5);
const WAIT = __ENV.WAIT || "longpoll";
if (WAIT !== "longpoll" && WAIT !== "poll") {
  throw new Error(`WAIT must be longpoll or poll, not ${WAIT}`);
}
// A long-poll's own limit (the service allows up to 60 s); the request's timeout leaves room for it.
const LONG_POLL_S = 30;
// How many order numbers this run can have used: every burst VU sends one order; a constant-arrival-rate
// run starts up to RATE * DURATION + 1 iterations (one at t=0 and one per 1/RATE s up to DURATION), fewer
// when k6 drops some. Numbers never used are "never created", which a soak run does not count against it.
const MAX_ORDERS = BURST ? ORDERS : Math.ceil(RATE * durationSeconds(DURATION)) + 1;
// Status polls are sent with http.batch, this many at a time.
const STATUS_BATCH = 50;

const ordersSubmitted = new Counter("orders_submitted");
const ordersAccepted = new Counter("orders_accepted");
const ordersCompleted = new Counter("orders_completed");
const ordersIncomplete = new Counter("orders_incomplete");
const ordersMissing = new Counter("orders_missing");
const allCompletedSeconds = new Gauge("orders_all_completed_s");

// With API keys on (the service's API_KEYS), API_KEY is sent with every request as X-API-Key.
/** @type {{ [name: string]: string }} */
const KEY_HEADERS = __ENV.API_KEY ? { "X-API-Key": __ENV.API_KEY } : {};
const JSON_HEADERS = Object.assign({ "Content-Type": "application/json" }, KEY_HEADERS);
const CREATE_PARAMS = {
  headers: JSON_HEADERS,
  tags: { endpoint: "create", name: "POST /orders" },
  timeout: "60s",
};
// 404 is a legitimate answer while polling (an order this run never got to create), not a failed request.
const STATUS_PARAMS = {
  headers: KEY_HEADERS,
  tags: { endpoint: "status", name: "GET /orders/{id}/status" },
  responseCallback: http.expectedStatuses(200, 404),
  timeout: `${LONG_POLL_S + 30}s`,
};

/** @type {{ [name: string]: import("k6/options").Scenario }} */
const scenarios = {};
if (BURST) {
  scenarios.burst = {
    executor: "per-vu-iterations",
    exec: "createOrder",
    vus: ORDERS,
    iterations: 1,
    maxDuration: "2m",
  };
} else {
  scenarios.soak = {
    executor: "constant-arrival-rate",
    exec: "createOrder",
    rate: RATE,
    timeUnit: "1s",
    duration: DURATION,
    preAllocatedVUs: Math.max(10, RATE),
    maxVUs: Math.max(50, RATE * 10),
  };
}

/** @type {{ [name: string]: import("k6/options").Threshold[] }} */
const thresholds = {
  // Any failed request fails the run; a soak run stops early instead of hammering a broken service.
  http_req_failed: BURST ? ["rate==0"] : [{ threshold: "rate==0", abortOnFail: true, delayAbortEval: "10s" }],
  checks: ["rate==1"],
  "http_req_duration{endpoint:create}": [`p(95)<${POST_P95_MS}`],
  orders_incomplete: ["count==0"],
};
if (BURST) {
  thresholds.orders_accepted = [`count==${ORDERS}`];
  thresholds.orders_completed = [`count==${ORDERS}`];
  thresholds.orders_missing = ["count==0"];
} else {
  // k6 ran out of VUs to keep the arrival rate: the service is slower than RATE orders per second.
  thresholds.dropped_iterations = ["count==0"];
}

const TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"];

/** @type {import("k6/options").Options} */
export const options = {
  scenarios,
  thresholds,
  summaryTrendStats: TREND_STATS,
  setupTimeout: "60s",
  // Waiting for completion happens in teardown(): the time limit plus room for the status polls.
  teardownTimeout: `${Math.ceil(COMPLETION_TIMEOUT_S + 120)}s`,
  batch: STATUS_BATCH,
  batchPerHost: STATUS_BATCH,
};

/**
 * The body of a response as an object, or null when it is not a JSON object.
 * @param {import("k6/http").Response} res
 * @returns {{ [key: string]: import("k6").JSONValue } | null}
 */
function jsonObject(res) {
  if (typeof res.body !== "string" || res.body.length === 0) {
    return null;
  }
  try {
    const value = JSON.parse(res.body);
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      return value;
    }
  } catch (_error) {
    // not JSON
  }
  return null;
}

/**
 * @param {{ [key: string]: import("k6").JSONValue }} body
 * @param {string} key
 * @returns {number}
 */
function numberField(body, key) {
  const value = body[key];
  return typeof value === "number" ? value : 0;
}

/** @returns {MetricsSnapshot | null} */
function readMetrics() {
  const res = http.get(`${BASE_URL}/metrics`, { headers: KEY_HEADERS, tags: { endpoint: "metrics" } });
  const body = jsonObject(res);
  if (res.status !== 200 || body === null) {
    return null;
  }
  const raw = body.status_counts;
  const counts = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
  return {
    total: numberField(body, "total_orders"),
    pending: numberField(counts, "pending"),
    processing: numberField(counts, "processing"),
    completed: numberField(counts, "completed"),
    failed: numberField(counts, "failed"),
    cancelled: numberField(counts, "cancelled"),
  };
}

/**
 * @param {string} runId
 * @param {number} n
 */
function orderId(runId, n) {
  return `${runId}-${n}`;
}

/** @returns {SetupData} */
export function setup() {
  const ready = http.get(`${BASE_URL}/ready`, { tags: { endpoint: "ready" } });
  if (ready.status !== 200) {
    fail(`the service at ${BASE_URL} is not ready: GET /ready answered ${ready.status} ${ready.error}`);
  }
  const baseline = readMetrics();
  const runId = `k6-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  console.log(`run ${runId}: scenario ${SCENARIO} against ${BASE_URL}; baseline ${JSON.stringify(baseline)}`);
  return { runId, startedAt: Date.now(), baseline };
}

// Currencies of SCENARIO=items with their minor-unit digits: yen none, dinar three.
/** @type {[string, number][]} */
const CURRENCIES = [
  ["USD", 2],
  ["EUR", 2],
  ["JPY", 0],
  ["KWD", 3],
];

/**
 * Order number `n` with 1 to 20 priced lines: prices with exactly the currency's digits, a shipping
 * charge; the service computes the total.
 * @param {number} n
 * @param {string} id
 */
function pricedOrder(n, id) {
  const currency = CURRENCIES[n % CURRENCIES.length] || CURRENCIES[0];
  const digits = currency[1];
  const items = [];
  for (let i = 0; i < 1 + (n % 20); i++) {
    const minor = 100 + ((n * 7 + i * 13) % 9000);
    items.push({
      sku: `SKU-${(n + i) % 500}`,
      quantity: 1 + ((n + i) % 3),
      unit_price: Number((minor / 10 ** digits).toFixed(digits)),
    });
  }
  return {
    user_id: `k6-user-${n % 100}`,
    order_id: id,
    currency: currency[0],
    items,
    shipping_amount: digits === 0 ? 500 : 4.5,
  };
}

/**
 * One order per iteration; exec.scenario.iterationInTest numbers them uniquely across the scenario.
 * @param {SetupData} data
 */
export function createOrder(data) {
  const n = exec.scenario.iterationInTest;
  const id = orderId(data.runId, n);
  const payload = ITEMS
    ? pricedOrder(n, id)
    : {
        user_id: `k6-user-${n % 100}`,
        order_id: id,
        item_ids: [`item-${n % 17}`, `item-${n % 29}`],
        total_amount: (1000 + (n % 9000)) / 100,
      };
  ordersSubmitted.add(1);
  const res = http.post(`${BASE_URL}/orders`, JSON.stringify(payload), CREATE_PARAMS);
  const body = jsonObject(res);
  const accepted = check(res, {
    "POST /orders answers 201": (r) => r.status === 201,
    "POST /orders returns the order as pending": () =>
      body !== null && body.order_id === id && body.status === "pending",
  });
  ordersAccepted.add(accepted ? 1 : 0);
}

/**
 * Statuses of the given orders: the status string, "missing" for 404, "error" for anything else. With
 * WAIT=longpoll each request waits (up to `waitS` seconds) until its order is final.
 * @param {string[]} ids
 * @param {number} waitS
 * @returns {{ [id: string]: string }}
 */
function fetchStatuses(ids, waitS) {
  const query = WAIT === "longpoll" ? `?wait_for=completed,failed,cancelled&timeout_s=${waitS}` : "";
  /** @type {{ [id: string]: string }} */
  const statuses = {};
  for (let start = 0; start < ids.length; start += STATUS_BATCH) {
    const chunk = ids.slice(start, start + STATUS_BATCH);
    const responses = http.batch(
      chunk.map((id) => ({
        method: "GET",
        url: `${BASE_URL}/orders/${encodeURIComponent(id)}/status${query}`,
        params: STATUS_PARAMS,
      })),
    );
    for (let i = 0; i < chunk.length; i++) {
      const res = responses[i];
      const body = jsonObject(res);
      let status = "error";
      if (res.status === 404) {
        status = "missing";
      } else if (res.status === 200 && body !== null && typeof body.status === "string") {
        status = body.status;
      }
      statuses[chunk[i]] = status;
    }
  }
  return statuses;
}

/** @param {SetupData} data */
export function teardown(data) {
  const waitStart = Date.now();
  const deadline = waitStart + COMPLETION_TIMEOUT_S * 1000;

  /** @type {string[]} */
  let open = [];
  for (let n = 0; n < MAX_ORDERS; n++) {
    open.push(orderId(data.runId, n));
  }
  let completed = 0;
  let missing = 0;
  /** @type {string[]} */
  const ended = []; // failed or cancelled: final, and not completed
  let doneAt = 0;
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    const statuses = fetchStatuses(open, Math.max(0, Math.min(LONG_POLL_S, left)));
    /** @type {string[]} */
    const still = [];
    for (const id of open) {
      const status = statuses[id];
      if (status === "completed") {
        completed++;
      } else if (status === "missing") {
        missing++;
      } else if (status === "failed" || status === "cancelled") {
        ended.push(`${id} ${status}`);
      } else {
        still.push(id);
      }
    }
    open = still;
    if (open.length === 0) {
      doneAt = Date.now();
      break;
    }
    if (Date.now() >= deadline) {
      break;
    }
    if (WAIT === "poll") {
      sleep(POLL_INTERVAL_S);
    }
  }

  const incomplete = open.length + ended.length;
  ordersCompleted.add(completed);
  ordersIncomplete.add(incomplete);
  ordersMissing.add(BURST ? missing : 0);
  const allDone = incomplete === 0 && completed > 0;
  if (allDone) {
    allCompletedSeconds.add((doneAt - data.startedAt) / 1000);
  }
  check(null, {
    [`every accepted order completed within ${COMPLETION_TIMEOUT_S}s`]: () => allDone,
  });
  const waited = ((Date.now() - waitStart) / 1000).toFixed(1);
  const ends = ended.length > 0 ? `; ended without completing: ${ended.slice(0, 10).join(", ")}` : "";
  const opens = open.length > 0 ? `; still open: ${open.slice(0, 10).join(", ")}` : "";
  console.log(
    `run ${data.runId}: ${completed} completed, ${incomplete} not completed, ${missing} never created; ` +
      `waited ${waited}s${ends}${opens}`,
  );
}

// ---------------------------------------------------------------- end-of-test summary

/**
 * The part of k6's summary data used here (the format handleSummary receives from k6 v0.30 on).
 * @typedef {{ type: string, contains: string, values: { [stat: string]: number },
 *   thresholds?: { [expression: string]: { ok: boolean } } }} SummaryMetric
 * @typedef {{ name: string, passes: number, fails: number }} SummaryCheck
 * @typedef {{ name: string, checks: SummaryCheck[] | { [name: string]: SummaryCheck },
 *   groups: SummaryGroup[] | { [name: string]: SummaryGroup } }} SummaryGroup
 * @typedef {{ metrics: { [name: string]: SummaryMetric }, root_group: SummaryGroup,
 *   state?: { testRunDurationMs?: number } }} SummaryData
 */

/**
 * @template T
 * @param {T[] | { [name: string]: T }} list
 * @returns {T[]}
 */
function listOf(list) {
  if (Array.isArray(list)) {
    return list;
  }
  return Object.keys(list).map((key) => list[key]);
}

/** @param {number} ms */
function formatMs(ms) {
  if (ms < 1) {
    return `${(ms * 1000).toFixed(0)}µs`;
  }
  if (ms < 1000) {
    return `${ms.toFixed(2)}ms`;
  }
  return `${(ms / 1000).toFixed(2)}s`;
}

/**
 * @param {string} text
 * @param {number} width
 */
function padDots(text, width) {
  let out = text;
  while (out.length < width) {
    out += ".";
  }
  return `${out}:`;
}

/**
 * Bytes in human units, as k6's own summary prints them (1 kB = 1000 B).
 * @param {number} bytes
 */
function formatBytes(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/**
 * A value of a metric in its own unit: times in ms/s, data in bytes, the rest as numbers.
 * @param {SummaryMetric} metric
 * @param {number} value
 */
function formatValue(metric, value) {
  if (metric.contains === "time") {
    return formatMs(value);
  }
  if (metric.contains === "data") {
    return formatBytes(value);
  }
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** @param {SummaryMetric} metric */
function formatMetric(metric) {
  const v = metric.values;
  if (metric.type === "trend") {
    // In the order of summaryTrendStats, whatever order k6 hands them over in.
    return TREND_STATS.filter((stat) => typeof v[stat] === "number")
      .map((stat) => `${stat}=${formatValue(metric, v[stat])}`)
      .join(" ");
  }
  if (metric.type === "rate") {
    return `${(v.rate * 100).toFixed(2)}% (${v.passes} of ${v.passes + v.fails})`;
  }
  if (metric.type === "counter") {
    return `${formatValue(metric, v.count)} ${formatValue(metric, v.rate)}/s`;
  }
  return `${formatValue(metric, v.value)} min=${formatValue(metric, v.min)} max=${formatValue(metric, v.max)}`;
}

/**
 * @param {SummaryGroup} group
 * @param {string} indent
 * @returns {string[]}
 */
function checkLines(group, indent) {
  /** @type {string[]} */
  const lines = [];
  for (const c of listOf(group.checks)) {
    lines.push(indent + (c.fails === 0 ? "✓ " : "✗ ") + c.name);
    if (c.fails > 0) {
      lines.push(`${indent}  ↳ ${c.passes} passed, ${c.fails} failed`);
    }
  }
  for (const g of listOf(group.groups)) {
    lines.push(`${indent}█ ${g.name}`);
    lines.push(...checkLines(g, `${indent}  `));
  }
  return lines;
}

/**
 * A text summary in the spirit of k6's own (which handleSummary replaces): checks, then every metric
 * with its thresholds.
 * @param {SummaryData} data
 */
function textSummary(data) {
  const lines = [""];
  lines.push(...checkLines(data.root_group, "  "));
  lines.push("");
  const names = Object.keys(data.metrics).sort();
  const width = names.reduce((w, name) => Math.max(w, name.length), 0) + 3;
  for (const name of names) {
    const metric = data.metrics[name];
    const thresholdResults = metric.thresholds || {};
    const expressions = Object.keys(thresholdResults);
    const failed = expressions.some((e) => !thresholdResults[e].ok);
    const mark = expressions.length === 0 ? "  " : failed ? "✗ " : "✓ ";
    lines.push(`  ${mark}${padDots(name, width)} ${formatMetric(metric)}`);
    for (const e of expressions) {
      lines.push(`      ${thresholdResults[e].ok ? "✓ " : "✗ "}'${e}'`);
    }
  }
  return lines.join("\n");
}

/**
 * @param {SummaryData} data
 * @param {string} name
 * @param {string} key
 * @returns {number | null}
 */
function stat(data, name, key) {
  const metric = data.metrics[name];
  if (metric === undefined || typeof metric.values[key] !== "number") {
    return null;
  }
  return metric.values[key];
}

/**
 * @param {number | null} value
 * @param {number} digits
 */
function fixed(value, digits) {
  return value === null ? "none" : value.toFixed(digits);
}

/**
 * The one line with the figures that matter, e.g.
 * ORDERS_SUMMARY scenario=burst accepted=1000/1000 completed=1000 post_p50_ms=41.2 post_p95_ms=88.0
 *   post_p99_ms=97.3 all_completed_s=4.21 thresholds=passed
 * @param {SummaryData} data
 */
function summaryLine(data) {
  const post = "http_req_duration{endpoint:create}";
  const allPassed = Object.keys(data.metrics).every((name) => {
    const results = data.metrics[name].thresholds || {};
    return Object.keys(results).every((e) => results[e].ok);
  });
  return [
    "ORDERS_SUMMARY",
    `scenario=${SCENARIO}`,
    `accepted=${fixed(stat(data, "orders_accepted", "count"), 0)}/${fixed(stat(data, "orders_submitted", "count"), 0)}`,
    `completed=${fixed(stat(data, "orders_completed", "count"), 0)}`,
    `post_p50_ms=${fixed(stat(data, post, "med"), 1)}`,
    `post_p95_ms=${fixed(stat(data, post, "p(95)"), 1)}`,
    `post_p99_ms=${fixed(stat(data, post, "p(99)"), 1)}`,
    `all_completed_s=${fixed(stat(data, "orders_all_completed_s", "value"), 2)}`,
    `thresholds=${allPassed ? "passed" : "failed"}`,
  ].join(" ");
}

/** @param {SummaryData} data */
export function handleSummary(data) {
  /** @type {{ [destination: string]: string }} */
  const out = { stdout: `${textSummary(data)}\n\n${summaryLine(data)}\n` };
  if (__ENV.SUMMARY_JSON) {
    out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  }
  return out;
}
