import { expect, test } from "bun:test";
import { AppError } from "../kit/errors.ts";
import { metricsFormat, prefersPrometheus } from "./metrics-format.ts";

// What Prometheus' scrapers send: before 2.49, 2.49 and later (scrape_protocols), and 3.x.
const SCRAPERS = [
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
  "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
  "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
];

test("every Prometheus scraper's Accept header gets the Prometheus format", () => {
  for (const accept of SCRAPERS) expect(prefersPrometheus(accept)).toBe(true);
  expect(prefersPrometheus("text/plain")).toBe(true);
  expect(prefersPrometheus("Text/Plain; q=0.9, application/json; q=0.5")).toBe(true);
  expect(prefersPrometheus("application/openmetrics-text")).toBe(true);
});

test("anything else keeps the JSON: wildcards, browsers, ties, JSON named first or alone", () => {
  for (const accept of [
    "",
    "*/*",
    "application/json",
    "application/json, text/plain",
    "text/plain;q=0.5, application/*",
    "text/plain;q=0, */*",
    "text/plain;q=x",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/json;q=0",
  ]) {
    expect({ accept, prometheus: prefersPrometheus(accept) }).toEqual({ accept, prometheus: false });
  }
});

test("?format= decides over Accept; an unknown format is a 422 naming the parameter", () => {
  expect(metricsFormat("application/json", "prometheus")).toBe("prometheus");
  expect(metricsFormat(SCRAPERS[0] ?? "", "json")).toBe("json");
  expect(metricsFormat(null, undefined)).toBe("json");
  expect(metricsFormat(SCRAPERS[2] ?? "", undefined)).toBe("prometheus");
  let error: unknown;
  try {
    metricsFormat(null, "xml");
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).status).toBe(422);
  expect(JSON.stringify((error as AppError).details)).toContain("format");
});
