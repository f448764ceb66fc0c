/**
 * The named schemas of the OpenAPI document (`components.schemas`): every body the API sends or
 * takes, under the name a generated client gives its type (`Order`, `OrderEvent`, `Error` …). The
 * routes declare their models inline (Elysia's way), and the plugin renders them its own way
 * (unions of literals as enums, say): so each name is taken from where the document first has its
 * model, then every place that has the same schema gets a `$ref` instead, so it is written once.
 */
type Node = Record<string, unknown>;

const json = ["content", "application/json", "schema"];
const ok = (method: string, path: string, status = "200") => [
  "paths",
  path,
  method,
  "responses",
  status,
  ...json,
];
const body = (method: string, path: string) => ["paths", path, method, "requestBody", ...json];

/**
 * The error envelope, `{"error":{"code","message","details"?}}`: each error status narrows it to
 * its codes and details (openapi-errors.ts). Written here, not taken from error-envelope.ts's
 * TypeBox model: Elysia adds keywords to that one once it has checked an answer against it.
 */
const ERROR_ENVELOPE = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", description: "Stable, SCREAMING_SNAKE machine-readable code" },
        message: { type: "string", description: "What went wrong, for people" },
        details: { description: "Per-field problems or other context" },
      },
    },
  },
};

/** Where the document has each named model (a path of keys into it). */
const NAMED = {
  Order: ok("get", "/orders/{order_id}"),
  OrderPage: ok("get", "/orders"),
  OrderStatus: ok("get", "/orders/{order_id}/status"),
  NewOrder: body("post", "/orders"),
  OrderEvents: ok("get", "/orders/{order_id}/events"),
  OrderEvent: [...ok("get", "/orders/{order_id}/events"), "properties", "events", "items"],
  Webhook: [...ok("get", "/webhooks"), "properties", "webhooks", "items"],
  WebhookPage: ok("get", "/webhooks"),
  CreatedWebhook: ok("post", "/webhooks", "201"),
  NewWebhook: body("post", "/webhooks"),
  Delivery: ok("post", "/webhooks/{id}/deliveries/{seq}/redeliver"),
  DeliveryPage: ok("get", "/webhooks/{id}/deliveries"),
  Metrics: ok("get", "/metrics"),
  Error: [],
};

/** The reference to the named schema `name`. */
export const refTo = (name: keyof typeof NAMED) => ({ $ref: `#/components/schemas/${name}` });

// Schema keywords that hold schemas (a map of them, a list, or one).
const MAPS = ["properties", "patternProperties", "$defs"];
const LISTS = ["anyOf", "oneOf", "allOf", "prefixItems"];
const VALUES = ["items", "additionalProperties", "not"];

const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The value at `path` in `doc`, following `$ref`s into its components on the way (a document
 * named before, as the lint script cleans the published one again).
 */
function lookUp(doc: Node, path: string[]): unknown {
  const components = isNode(doc.components) && isNode(doc.components.schemas) ? doc.components.schemas : {};
  const follow = (value: unknown): unknown => {
    const ref = isNode(value) && typeof value.$ref === "string" ? value.$ref : undefined;
    return ref?.startsWith("#/components/schemas/") ? follow(components[ref.slice(21)]) : value;
  };
  let value: unknown = doc;
  for (const key of path) value = isNode(value) ? follow(value[key]) : undefined;
  return value;
}

/** JSON with every object's keys sorted: two schemas written in another key order compare equal. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    isNode(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );

/**
 * Names the schemas of `doc` in place: the first occurrence of each model (NAMED) goes to
 * `components.schemas`, and every occurrence equal to it becomes a `$ref`.
 */
export function nameSchemas(doc: Node): void {
  const byJson = new Map<string, string>();
  const schemas: Node = {};
  for (const [name, at] of Object.entries(NAMED)) {
    const schema = name === "Error" ? ERROR_ENVELOPE : lookUp(doc, at);
    if (!isNode(schema)) throw new Error(`the OpenAPI document has no schema at ${at.join(" ")} (${name})`);
    byJson.set(canonical(schema), name);
    schemas[name] = schema;
  }
  /** `schema`, or a $ref if it is a named one; its sub-schemas named likewise. */
  const named = (schema: unknown): unknown => {
    if (!isNode(schema)) return schema;
    const name = byJson.get(canonical(schema));
    return name ? { $ref: `#/components/schemas/${name}` } : inside(schema);
  };
  /** A copy of `schema` whose sub-schemas are named. */
  const inside = (schema: Node): Node => {
    const copy: Node = { ...schema };
    for (const key of MAPS) {
      const map = copy[key];
      if (isNode(map)) copy[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, named(v)]));
    }
    for (const key of LISTS) {
      const list = copy[key];
      if (Array.isArray(list)) copy[key] = list.map(named);
    }
    for (const key of VALUES) if (isNode(copy[key])) copy[key] = named(copy[key]);
    return copy;
  };
  const nameContent = (content: unknown) => {
    if (!isNode(content)) return;
    for (const media of Object.values(content)) if (isNode(media)) media.schema = named(media.schema);
  };
  const operations = [
    ...Object.values(isNode(doc.paths) ? doc.paths : {}),
    ...Object.values(isNode(doc.webhooks) ? doc.webhooks : {}),
  ].flatMap((item) => (isNode(item) ? Object.values(item).filter(isNode) : []));
  for (const operation of operations) {
    if (isNode(operation.requestBody)) nameContent(operation.requestBody.content);
    for (const response of Object.values(isNode(operation.responses) ? operation.responses : {}))
      if (isNode(response)) nameContent(response.content);
  }
  const components = isNode(doc.components) ? doc.components : {};
  const existing = isNode(components.schemas) ? components.schemas : {};
  components.schemas = {
    ...existing,
    ...Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, inside(schema as Node)])),
  };
  doc.components = components;
}
