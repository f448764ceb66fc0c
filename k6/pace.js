// @ts-check
/*
 * k6 at a constant arrival rate of POST /orders, nothing else (bench/webhook-pace.ts runs it):
 * RATE orders per second for DURATION. BASE_URL as in k6/orders.js; API_KEY, when set, is sent
 * as X-API-Key (a service with API_KEYS on).
 */

import exec from "k6/execution";
import http from "k6/http";

const BASE_URL = __ENV.BASE_URL || "http://localhost:3000";
const RUN = String(Date.now());
/** @type {Record<string, string>} */
const HEADERS = { "content-type": "application/json" };
if (__ENV.API_KEY) HEADERS["x-api-key"] = __ENV.API_KEY;

export const options = {
  discardResponseBodies: true,
  scenarios: {
    pace: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE || 1000),
      timeUnit: "1s",
      duration: __ENV.DURATION || "60s",
      preAllocatedVUs: 200,
      maxVUs: 2000,
    },
  },
};

export default function () {
  const id = `${RUN}-${exec.scenario.iterationInTest}`;
  const body = JSON.stringify({
    order_id: id,
    user_id: "user_1",
    item_ids: ["item_1", "item_2"],
    total_amount: 150.99,
  });
  http.post(`${BASE_URL}/orders`, body, { headers: HEADERS });
}
