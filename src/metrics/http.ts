/** Request metrics: a global Elysia plugin timing every request. (Skeleton.) */
import { Elysia } from "elysia";
import type { Metrics } from "./registry.ts";

/** Times every request into `metrics`. */
export function httpMetrics(_metrics: Metrics) {
  return new Elysia({ name: "http-metrics" });
}
