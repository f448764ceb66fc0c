/*
 * The live dashboard's entry module: polls /dashboard/data once a second, keeps the status line,
 * asks for an API key when one is needed, and hands each answer to the samples (rates.js), the
 * charts (charts.js) and the panels (panels.js, webhooks.js). Native ES modules, loaded by the
 * browser from /dashboard/assets/ with no build step; nothing global of their own (uPlot is the
 * one global, from its own script). Tests read the data attributes `data-samples` (on each chart) and
 * `data-total`.
 *
 * Why polling and not server-sent events: EventSource cannot send the X-API-Key header a keyed
 * service needs; the server computes /dashboard/data at most once a second and shares that one
 * read between every open page, so a poll a second costs the same for one page or fifty; and a
 * plain request a second works through any proxy, where a long-lived stream may be buffered or cut.
 */
import { forgetKey, hasKey, request, useKey } from "./api.js";
import { createCharts } from "./charts.js";
import { clock } from "./format.js";
import { drawBacklog, drawFailures, drawFigures } from "./panels.js";
import { addSample } from "./rates.js";
import { drawSteps } from "./steps.js";
import { drawValue } from "./value.js";
import { drawWebhooks } from "./webhooks.js";

const POLL_MS = 1000;

const $ = (id) => document.getElementById(id);

/** The next poll's timer, and when data last arrived. */
let timer;
let lastUpdate = null;

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

// ---- Asking for a key ----

let waitingForKey = false;

/**
 * Shows the key form; `refused` says the last key was wrong. When the data itself needs the key,
 * polling stops until one is given (each poll would only be refused); when only a retry needed
 * it (the data may be public), the page keeps polling meanwhile.
 */
const askForKey = (refused, { forData }) => {
  forgetKey();
  $("key-error").hidden = !refused;
  $("key-form").hidden = false;
  $("key-input").focus();
  if (forData) {
    waitingForKey = true;
    clearTimeout(timer);
    showState("key", "API key needed");
  }
};

/** What a Retry refused for want of a key does: ask, but keep polling. */
const askForKeyToRetry = (refused) => askForKey(refused, { forData: false });

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  useKey(key);
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
      askForKey(hasKey(), { forData: true });
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

const drawCharts = createCharts();

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
    drawFailures(data.recent_failures, askForKeyToRetry);
    drawWebhooks(data.webhooks);
    drawValue(data.value_accepted, data.window_s);
    drawSteps(data.steps, data.window_s);
    showState("live", "Live");
    $("updated").textContent = `updated ${clock.format(lastUpdate)}`;
  } finally {
    if (!waitingForKey) timer = setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - started)));
  }
};

poll();
