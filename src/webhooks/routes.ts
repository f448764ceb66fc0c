/** HTTP routes of the webhooks feature: subscriptions and their deliveries. */
import { Elysia } from "elysia";
import { ErrorBody } from "../kit/error-envelope.ts";
import { parseJsonBody } from "../kit/json-body.ts";
import { checkQuery } from "../kit/query-string.ts";
import {
  CreatedWebhookView,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryPage,
  DeliveryParams,
  DeliveryView,
  WebhookIdParams,
  WebhookList,
  WebhooksQuery,
} from "./model.ts";
import {
  createWebhook,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  redeliver,
  type WebhookDeps,
} from "./service.ts";

/** The `/webhooks` routes. */
export function webhookRoutes(deps: WebhookDeps, { bodyTimeoutMs }: { bodyTimeoutMs: number }) {
  return new Elysia({ name: "webhooks", prefix: "/webhooks", detail: { tags: ["Webhooks"] } })
    .post(
      "",
      async ({ body, set }) => {
        const created = await createWebhook(deps, body);
        set.status = 201;
        return created;
      },
      {
        parse: [({ request }) => parseJsonBody(request, bodyTimeoutMs), "application/json"],
        body: CreateWebhookBody,
        response: {
          201: CreatedWebhookView,
          400: ErrorBody,
          408: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
          422: ErrorBody,
          503: ErrorBody,
        },
        detail: {
          operationId: "createWebhook",
          summary: "Subscribe a URL to order events",
          description:
            "Every event committed from now on (of event_types, or all) is POSTed to url as JSON, signed " +
            "per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), retried with " +
            "backoff until WEBHOOK_MAX_ATTEMPTS, then dead. The secret is in this answer only.",
        },
      },
    )
    .get("", ({ query }) => listWebhooks(deps.store, query), {
      transform: ({ request }) => checkQuery(request.url, ["limit"]),
      query: WebhooksQuery,
      response: { 200: WebhookList, 400: ErrorBody, 422: ErrorBody },
      detail: {
        operationId: "listWebhooks",
        summary: "List subscriptions, oldest first, a page at a time (without secrets)",
      },
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteWebhook(deps.store, params.id);
        set.status = 204;
      },
      {
        params: WebhookIdParams,
        response: { 404: ErrorBody, 503: ErrorBody },
        detail: {
          operationId: "deleteWebhook",
          summary: "Unsubscribe (204); its deliveries, history included, go with it",
        },
      },
    )
    .get("/:id/deliveries", ({ params, query }) => listDeliveries(deps.store, params.id, query), {
      transform: ({ request }) => checkQuery(request.url, ["limit"]),
      params: WebhookIdParams,
      query: DeliveriesQuery,
      response: { 200: DeliveryPage, 400: ErrorBody, 404: ErrorBody, 422: ErrorBody },
      detail: {
        operationId: "listDeliveries",
        summary: "A subscription's deliveries, oldest first (status=dead for the dead ones)",
      },
    })
    .post("/:id/deliveries/:seq/redeliver", ({ params }) => redeliver(deps, params.id, params.seq), {
      params: DeliveryParams,
      response: { 200: DeliveryView, 404: ErrorBody, 503: ErrorBody },
      detail: {
        operationId: "redeliver",
        summary: "Send a delivery again (pending, due now, attempts back to 0)",
      },
    });
}
