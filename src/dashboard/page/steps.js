/*
 * The "Steps" card: a module's steps over the last minute, in pipeline order: each one's run time
 * (p50, p95 of its completed runs), how many completed, failed their attempt, and were undone
 * (compensated; a compensation given up counts apart, after a slash). Rebuilt on each poll: a few
 * rows, nothing to click. `data-steps` on the body is what the tests read.
 */
import { formatMs, integer } from "./format.js";

const $ = (id) => document.getElementById(id);

/** One row per step. */
export const drawSteps = (steps, windowS) => {
  $("steps-window").textContent = `(last ${integer.format(windowS)} s)`;
  const body = $("steps");
  body.dataset.steps = steps.map((step) => step.name).join(",");
  body.replaceChildren(
    ...steps.map((step) => {
      const row = document.createElement("tr");
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = step.name;
      const undone =
        step.compensation_failed > 0
          ? `${integer.format(step.compensated)} / ${integer.format(step.compensation_failed)} given up`
          : integer.format(step.compensated);
      const cells = [formatMs(step.p50_ms), formatMs(step.p95_ms), integer.format(step.completed)]
        .concat([integer.format(step.failed), undone])
        .map((text) => {
          const cell = document.createElement("td");
          cell.textContent = text;
          return cell;
        });
      row.append(name, ...cells);
      return row;
    }),
  );
  $("steps-table").hidden = steps.length === 0;
  $("steps-empty").hidden = steps.length > 0;
};
