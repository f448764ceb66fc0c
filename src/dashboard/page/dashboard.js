/*
 * The live dashboard's script: polls /dashboard/data once a second, keeps five minutes of samples
 * in the page, derives per-second rates from consecutive samples and draws them with uPlot (the
 * global `uPlot`, loaded before this file). Plain modern JS, no build step, nothing global of its
 * own: tests read the data attributes `data-samples` (on each chart) and `data-total`.
 *
 * Why polling and not server-sent events: EventSource cannot send the X-API-Key header a keyed
 * service needs; the server computes /dashboard/data at most once a second and shares that one
 * read between every open page, so a poll a second costs the same for one page or fifty; and a
 * plain request a second works through any proxy, where a long-lived stream may be buffered or cut.
 */
(() => {
  const POLL_MS = 1000;
  const HISTORY_S = 300;
  const REQUEST_TIMEOUT_MS = 5000;
  const KEY_STORAGE = "orders-dashboard.api-key";
  const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];

  const $ = (id) => document.getElementById(id);

  /** The next poll's timer, and when data last arrived. */
  let timer;
  let lastUpdate = null;

  // ---- Formatting for people ----

  const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  /** A rate: one decimal under 10, whole numbers above; "—" when unknown. */
  const formatRate = (rate) =>
    rate == null ? "—" : rate < 10 ? oneDecimal.format(rate) : integer.format(Math.round(rate));

  /** A duration in ms: "12 ms", "0.4 ms", "1.4 s", "—" for null. */
  const formatMs = (ms) => {
    if (ms == null) return "—";
    if (ms < 10) return `${oneDecimal.format(ms)} ms`;
    if (ms < 1000) return `${integer.format(Math.round(ms))} ms`;
    if (ms < 10_000) return `${oneDecimal.format(ms / 1000)} s`;
    return `${integer.format(Math.round(ms / 1000))} s`;
  };

  /** A creation time: the time alone when it is today, else the date too. */
  const formatCreated = (iso) => {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    return date.toDateString() === new Date().toDateString() ? clock.format(date) : dateTime.format(date);
  };

  // ---- The API key: only in this tab's sessionStorage ----

  const readKey = () => {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  };
  const writeKey = (key) => {
    try {
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      else sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // Storage refused (a private mode): the key is then asked again on reload.
    }
  };
  let apiKey = readKey();

  /** fetch with the key, if any, as X-API-Key, and a deadline. */
  const request = (path, init = {}) =>
    fetch(path, {
      ...init,
      headers: apiKey ? { "x-api-key": apiKey } : {},
      cache: "no-store",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });

  // ---- Connection status line ----

  let shownState = "";
  /** Shows the connection state; the role="status" text changes only when the state does. */
  const showState = (state, text) => {
    const el = $("connection");
    if (shownState !== state || el.textContent !== text) {
      shownState = state;
      el.textContent = text;
      el.className = `state state-${state}`;
    }
  };

  // ---- Samples and rates ----

  /** Up to HISTORY_S seconds of samples: { t (s), total, completed, retries, failures }. */
  const samples = [];

  /**
   * Adds a sample stamped with the server's `at` (the time its counts were read, so the time
   * between two samples is the real time between the two reads, whatever the network did); a poll
   * answered from the same cached second adds nothing.
   */
  const addSample = (data) => {
    const t = Date.parse(data.at) / 1000;
    const last = samples[samples.length - 1];
    if (!Number.isFinite(t) || (last && t <= last.t)) return false;
    samples.push({
      t,
      total: data.orders.total,
      completed: data.orders.by_status.completed ?? 0,
      retries: data.retries_total,
      failures: data.failures_total,
    });
    while (samples.length > 0 && samples[0].t < t - HISTORY_S) samples.shift();
    return true;
  };

  /**
   * Per-second rate of `field` between samples i-1 and i. A negative difference means a counter
   * went back (a replica restarted and its running totals began again at 0): counted as 0.
   */
  const rate = (i, field) => {
    if (i === 0) return null;
    const a = samples[i - 1];
    const b = samples[i];
    const seconds = b.t - a.t;
    return seconds > 0 ? Math.max(0, b[field] - a[field]) / seconds : null;
  };

  const series = (field) => samples.map((_, i) => rate(i, field));

  // ---- Charts ----

  const COLOURS = { created: "#1f5fbf", completed: "#1b7a3a", retries: "#a55a00", failures: "#b3261e" };

  /** The last value of series `i` of a chart. */
  const latest = (u, i) => {
    const values = u.data[i];
    return values && values.length > 0 ? values[values.length - 1] : null;
  };
  const formatTime = (seconds) => (seconds == null ? "—" : clock.format(new Date(seconds * 1000)));
  /** Axis labels: whole numbers when every split is one ("0", "200"), else one decimal. */
  const axisValues = (_u, splits) =>
    splits.map((v) => (splits.every(Number.isInteger) ? integer.format(v) : oneDecimal.format(v)));

  /**
   * A uPlot time chart of rates in `el`; `lines` are { label, colour, dash (canvas pattern),
   * marker (the CSS border style drawn in the legend) }.
   */
  const makeChart = (el, height, lines) => {
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { drag: { x: false, y: false } },
      scales: {
        // The time axis fits the samples held (up to HISTORY_S): the page knows nothing from
        // before it opened, so it does not draw that time as if it had been quiet.
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        { stroke: "#333", grid: { stroke: "#e3e3e3" }, ticks: { stroke: "#bbb" } },
        {
          stroke: "#333",
          grid: { stroke: "#e3e3e3" },
          ticks: { stroke: "#bbb" },
          size: 56,
          values: axisValues,
        },
      ],
      // Away from the cursor the legend shows the latest values, so it reads as a live figure.
      legend: {
        markers: { width: 3, dash: (_u, i) => lines[i - 1]?.marker ?? "solid", fill: () => "transparent" },
      },
      series: [
        { value: (u, v, _i, idx) => formatTime(idx == null ? latest(u, 0) : v) },
        ...lines.map((line) => ({
          label: line.label,
          stroke: line.colour,
          width: 2,
          dash: line.dash,
          spanGaps: false,
          points: { show: false },
          value: (u, v, i, idx) => {
            const shown = idx == null ? latest(u, i) : v;
            return shown == null ? "—" : `${formatRate(shown)}/s`;
          },
        })),
      ],
    };
    const chart = new uPlot(opts, [[], ...lines.map(() => [])], el);
    // Charts follow their container's width (the grid changes with the window).
    new ResizeObserver(() => {
      const width = Math.max(200, el.clientWidth);
      if (width !== chart.width) chart.setSize({ width, height });
    }).observe(el);
    return chart;
  };

  const ordersChart = makeChart($("orders-chart"), 260, [
    { label: "Created", colour: COLOURS.created },
    { label: "Completed", colour: COLOURS.completed, dash: [8, 5], marker: "dashed" },
  ]);
  const troubleChart = makeChart($("trouble-chart"), 180, [
    { label: "Retries", colour: COLOURS.retries },
    { label: "Failures", colour: COLOURS.failures, dash: [2, 4], marker: "dotted" },
  ]);

  const drawCharts = () => {
    const xs = samples.map((s) => s.t);
    ordersChart.setData([xs, series("total"), series("completed")]);
    troubleChart.setData([xs, series("retries"), series("failures")]);
    $("orders-chart").dataset.samples = String(samples.length);
    $("trouble-chart").dataset.samples = String(samples.length);
    const last = samples.length - 1;
    $("rate-created").textContent = last > 0 ? `${formatRate(rate(last, "total"))}/s` : "—";
    $("rate-completed").textContent = last > 0 ? `${formatRate(rate(last, "completed"))}/s` : "—";
  };

  // ---- The figures, backlog and latency ----

  const backlogRows = new Map();
  const drawBacklog = (data) => {
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

  const drawFigures = (data) => {
    const total = $("orders-total");
    total.textContent = integer.format(data.orders.total);
    total.dataset.total = String(data.orders.total);
    $("slots").textContent = `${integer.format(data.slots.busy)} of ${integer.format(data.slots.capacity)}`;
    $("replicas").textContent = integer.format(data.replicas);
    $("retries-failures").textContent =
      `${integer.format(data.retries_total)} / ${integer.format(data.failures_total)}`;
    $("latency-window").textContent = `(last ${integer.format(data.window_s)} s)`;
    for (const p of ["p50", "p95", "p99"]) {
      $(`wait-${p}`).textContent = formatMs(data.queue_wait_ms[p]);
      $(`proc-${p}`).textContent = formatMs(data.processing_ms[p]);
    }
  };

  // ---- Latest failed orders, with a Retry button each ----

  /** Rows by order id, kept across polls so a button being pressed is never replaced under the pointer. */
  const failureRows = new Map();

  const newFailureRow = (orderId) => {
    const tr = document.createElement("tr");
    tr.dataset.orderId = orderId;
    const cells = ["order", "user", "attempts", "error", "created", "action"].map((name) => {
      const td = document.createElement("td");
      td.className = `col-${name}`;
      tr.append(td);
      return td;
    });
    cells[0].textContent = orderId;
    cells[2].classList.add("num");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Retry";
    button.setAttribute("aria-label", `Retry order ${orderId}`);
    const outcome = document.createElement("span");
    outcome.className = "outcome";
    outcome.setAttribute("role", "status");
    cells[5].append(button, outcome);
    button.addEventListener("click", () => retry(orderId, button, outcome));
    return { tr, cells };
  };

  const drawFailures = (failures) => {
    const body = $("failures");
    const seen = new Set();
    failures.forEach((failure, i) => {
      seen.add(failure.order_id);
      let row = failureRows.get(failure.order_id);
      if (!row) {
        row = newFailureRow(failure.order_id);
        failureRows.set(failure.order_id, row);
      }
      row.cells[1].textContent = failure.user_id;
      row.cells[2].textContent = integer.format(failure.attempts);
      row.cells[3].textContent = failure.last_error ?? "—";
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

  /** The operator's retry: body-less POST; 200 pending again, 409 no longer failed. */
  const retry = async (orderId, button, outcome) => {
    button.disabled = true;
    outcome.textContent = "Retrying…";
    try {
      const res = await request(`/orders/${encodeURIComponent(orderId)}/retry`, { method: "POST" });
      if (res.status === 200) outcome.textContent = `Retried at ${clock.format(new Date())}`;
      else if (res.status === 409) outcome.textContent = "Not failed any more";
      else if (res.status === 401) {
        outcome.textContent = "Needs an API key";
        askForKey(Boolean(apiKey), { forData: false });
      } else outcome.textContent = `Retry refused (HTTP ${res.status})`;
    } catch {
      outcome.textContent = "Retry not sent: no connection";
    } finally {
      button.disabled = false;
    }
  };

  // ---- Asking for a key ----

  let waitingForKey = false;

  /**
   * Shows the key form; `refused` says the last key was wrong. When the data itself needs the key,
   * polling stops until one is given (each poll would only be refused); when only a retry needed
   * it (the data may be public), the page keeps polling meanwhile.
   */
  const askForKey = (refused, { forData }) => {
    writeKey(null);
    apiKey = null;
    $("key-error").hidden = !refused;
    $("key-form").hidden = false;
    $("key-input").focus();
    if (forData) {
      waitingForKey = true;
      clearTimeout(timer);
      showState("key", "API key needed");
    }
  };

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    apiKey = key;
    writeKey(key);
    $("key-input").value = "";
    $("key-form").hidden = true;
    if (waitingForKey) {
      waitingForKey = false;
      showState("connecting", "Connecting…");
      poll();
    }
  });

  // ---- The poll loop ----

  /** The data, or null after showing why there is none (no key, a failed poll). */
  const fetchData = async () => {
    try {
      const res = await request("/dashboard/data");
      if (res.status === 401) {
        askForKey(Boolean(apiKey), { forData: true });
        return null;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return await res.json();
    } catch (error) {
      const why = error instanceof Error && error.message.startsWith("HTTP") ? ` (${error.message})` : "";
      showState("reconnecting", `Reconnecting…${why}`);
      $("updated").textContent = lastUpdate ? `last update ${clock.format(lastUpdate)}` : "";
      return null;
    }
  };

  /**
   * One poll, then the next a second after this one began (never two at once). A failure to draw
   * is a bug and is left to surface as a page error, but polling goes on.
   */
  const poll = async () => {
    clearTimeout(timer);
    const started = performance.now();
    try {
      const data = await fetchData();
      if (!data) return;
      lastUpdate = new Date();
      addSample(data);
      drawFigures(data);
      drawBacklog(data);
      drawCharts();
      drawFailures(data.recent_failures);
      showState("live", "Live");
      $("updated").textContent = `updated ${clock.format(lastUpdate)}`;
    } finally {
      if (!waitingForKey) timer = setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - started)));
    }
  };

  poll();
})();
