/*
 * The two uPlot charts: orders created and completed per second, and retries and failures per
 * second, over the samples held. uPlot is the global `uPlot` from its own classic script, which the
 * page loads (deferred) before this module. Every line has a label and its own dash pattern, so
 * colour never carries meaning alone.
 */
import { formatRate, formatTime, integer, oneDecimal } from "./format.js";
import { rate, samples, series } from "./rates.js";

const $ = (id) => document.getElementById(id);

const COLOURS = { created: "#1f5fbf", completed: "#1b7a3a", retries: "#a55a00", failures: "#b3261e" };

/** The last value of series `i` of a chart. */
const latest = (u, i) => {
  const values = u.data[i];
  return values && values.length > 0 ? values[values.length - 1] : null;
};

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
      // The time axis fits the samples held (up to five minutes): the page knows nothing from
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

/**
 * Draws both (empty) charts now and returns the function that redraws them from the samples; it
 * also sets the two "per second" figures and each chart's `data-samples`, which the tests read.
 */
export const createCharts = () => {
  const ordersChart = makeChart($("orders-chart"), 260, [
    { label: "Created", colour: COLOURS.created },
    { label: "Completed", colour: COLOURS.completed, dash: [8, 5], marker: "dashed" },
  ]);
  const troubleChart = makeChart($("trouble-chart"), 180, [
    { label: "Retries", colour: COLOURS.retries },
    { label: "Failures", colour: COLOURS.failures, dash: [2, 4], marker: "dotted" },
  ]);

  return () => {
    const xs = samples.map((s) => s.t);
    ordersChart.setData([xs, series("total"), series("completed")]);
    troubleChart.setData([xs, series("retries"), series("failures")]);
    $("orders-chart").dataset.samples = String(samples.length);
    $("trouble-chart").dataset.samples = String(samples.length);
    const last = samples.length - 1;
    $("rate-created").textContent = last > 0 ? `${formatRate(rate(last, "total"))}/s` : "—";
    $("rate-completed").textContent = last > 0 ? `${formatRate(rate(last, "completed"))}/s` : "—";
  };
};
