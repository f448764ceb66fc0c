/** HTTP routes of the webhooks feature: subscriptions and their deliveries. */
import { Elysia } from "elysia";
import {
  deliveryNotFound,
  invalidQuery,
  validationFailed,
  webhookLimitReached,
  webhookNotFound,
} from "../kit/errors.ts";
import { JSON_BODY_ERRORS, parseJsonBody } from "../kit/json-body.ts";
import { limitInvalid } from "../kit/paging.ts";
import { checkQuery } from "../kit/query-string.ts";
import { contract, WRITER_DOWN } from "../kit/route-contract.ts";
import {
  CreatedWebhookView,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryPage,
  DeliveryParams,
  DeliveryView,
  MAX_DELIVERY_PAGE,
  MAX_WEBHOOK_PAGE,
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

// The subscription the documented errors name.
const WEBHOOK_ID = "3f6b0c1e-2d4a-4c8e-9a57-1b2c3d4e5f60";

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
        ...contract({
          errors: [
            ...JSON_BODY_ERRORS,
            validationFailed(
              [
                {
                  field: "url",
                  message:
                    "the host 127.0.0.1 is a loopback address; list it in WEBHOOK_ALLOWED_HOSTS to allow it",
                },
              ],
              "body",
            ),
            // MAX_WEBHOOKS at its default.
            webhookLimitReached(100),
            WRITER_DOWN,
          ],
          response: { 201: CreatedWebhookView },
          detail: {
            operationId: "createWebhook",
            summary: "Subscribe a URL to order events",
            description:
              "Every event committed from now on (of event_types, or all) is POSTed to url as JSON, signed " +
              "per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature), retried with " +
              "backoff until WEBHOOK_MAX_ATTEMPTS, then dead. The secret is in this answer only.",
          },
        }),
      },
    )
    .get("", ({ query }) => listWebhooks(deps, query), {
      transform: ({ request }) => checkQuery(request.url, ["limit"]),
      query: WebhooksQuery,
      ...contract({
        errors: [invalidQuery("cursor=%FF"), limitInvalid(MAX_WEBHOOK_PAGE)],
        response: { 200: WebhookList },
        detail: {
          operationId: "listWebhooks",
          summary: "List subscriptions, oldest first, a page at a time (without secrets)",
        },
      }),
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await deleteWebhook(deps.store, params.id);
        set.status = 204;
      },
      {
        params: WebhookIdParams,
        ...contract({
          errors: [webhookNotFound(WEBHOOK_ID), WRITER_DOWN],
          response: {},
          detail: {
            operationId: "deleteWebhook",
            summary: "Unsubscribe (204); its deliveries, history included, go with it",
          },
        }),
      },
    )
    .get("/:id/deliveries", ({ params, query }) => listDeliveries(deps.store, params.id, query), {
      transform: ({ request }) => checkQuery(request.url, ["limit"]),
      params: WebhookIdParams,
      query: DeliveriesQuery,
      ...contract({
        errors: [invalidQuery("cursor=%FF"), webhookNotFound(WEBHOOK_ID), limitInvalid(MAX_DELIVERY_PAGE)],
        response: { 200: DeliveryPage },
        detail: {
          operationId: "listDeliveries",
          summary: "A subscription's deliveries, oldest first (status=dead for the dead ones)",
        },
      }),
    })
    .post("/:id/deliveries/:seq/redeliver", ({ params }) => redeliver(deps, params.id, params.seq), {
      params: DeliveryParams,
      ...contract({
        errors: [webhookNotFound(WEBHOOK_ID), deliveryNotFound(WEBHOOK_ID, "42"), WRITER_DOWN],
        response: { 200: DeliveryView },
        detail: {
          operationId: "redeliver",
          summary: "Send a delivery again (pending, due now, attempts back to 0)",
        },
      }),
    });
}
