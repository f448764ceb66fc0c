/**
 * Turns the document @elysiajs/openapi generates into one that OpenAPI tools accept and that says
 * what the service really does: integers as `integer`, no Elysia-only keywords, each error status
 * with its own codes, typed `details` and examples built by the error catalogue itself, and the API
 * key schemes when keys are on.
 */
import { type AppError, rateLimited, unauthorized } from "./kit/errors.ts";
import {
  answersWithoutKey,
  type ErrorExample,
  type PublicSwitches,
  takeDeclarations,
} from "./kit/route-contract.ts";
import { nameSchemas } from "./openapi-components.ts";
import { errorResponse } from "./openapi-errors.ts";
import { PRINTABLE } from "./orders/fields.ts";
import { webhookDocuments } from "./webhooks/model.ts";

/**
 * What the document declares about API keys and rate limits; which operations they apply to is
 * each route's declared access (src/kit/route-contract.ts).
 */
export type DocumentOptions = {
  /** Whether requests need an API key; the document then declares the schemes and requires one. */
  apiKeysOn: boolean;
  /** METRICS_PUBLIC, DASHBOARD_PUBLIC, DOCS_PUBLIC: the accesses that need no key (none if absent). */
  publicSwitches?: PublicSwitches;
  /** RATE_LIMIT_PER_S: above 0, every operation but the probes may answer 429. */
  rateLimitPerS?: number;
};

const NO_SWITCH: PublicSwitches = { metricsPublic: false, dashboardPublic: false, docsPublic: false };

type Node = Record<string, unknown>;

const SECURITY_SCHEMES = {
  bearer: { type: "http", scheme: "bearer", description: "An API key sent as `Authorization: Bearer <key>`" },
  apiKey: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key sent as `X-API-Key`" },
};

// Schema keywords whose value is a map of schemas, a list of schemas, or one schema.
const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "dependentSchemas"];
const SCHEMA_LISTS = ["anyOf", "oneOf", "allOf", "prefixItems"];
const SCHEMA_VALUES = ["items", "additionalProperties", "unevaluatedProperties", "contains", "not", "if"];
// Formats only our validator knows (registered in orders/model.ts): OpenAPI allows any format, but
// Ajv-based tools refuse unknown ones in strict mode and the rest ignore them; descriptions say it.
const PRIVATE_FORMATS = new Set([PRINTABLE]);

const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Elysia's `t.Integer()`/`t.Numeric()` document as `anyOf: [{type: string, format: integer|numeric},
 * {type: integer|number}]` (they also accept numeric strings, for params and query): the number
 * branch, or undefined for any other schema.
 */
function numberBranch(schema: Node): Node | undefined {
  const [first, second, ...rest] = Array.isArray(schema.anyOf) ? schema.anyOf : [];
  if (rest.length > 0 || !isNode(first) || !isNode(second)) return undefined;
  const [text, number] = first.type === "string" ? [first, second] : [second, first];
  const numeric = text.type === "string" && (text.format === "integer" || text.format === "numeric");
  return numeric && (number.type === "integer" || number.type === "number") ? number : undefined;
}

/** A schema without Elysia's artefacts: numbers as numbers, no `error`, `nullable` or private format. */
function cleanSchema(input: unknown): unknown {
  if (!isNode(input)) return input;
  const number = numberBranch(input);
  const schema: Node = number ? { ...input, ...number } : { ...input };
  if (number) delete schema.anyOf;
  delete schema.error; // our custom validation messages, an Elysia-only keyword
  // OpenAPI 3.0's; 3.1 says type: [x, "null"] or anyOf [x, {type: "null"}], which Elysia writes too.
  if (Array.isArray(schema.type) || Array.isArray(schema.anyOf)) delete schema.nullable;
  if (typeof schema.format === "string" && PRIVATE_FORMATS.has(schema.format)) delete schema.format;
  // A nullable enum (`type: [string, null]` beside the enum of its values) must list null too, or
  // null fails it: `from_status` of a `created` event did.
  if (
    Array.isArray(schema.type) &&
    schema.type.includes("null") &&
    Array.isArray(schema.enum) &&
    !schema.enum.includes(null)
  )
    schema.enum = [...schema.enum, null];
  for (const key of SCHEMA_MAPS) {
    const map = schema[key];
    if (isNode(map))
      schema[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, cleanSchema(v)]));
  }
  for (const key of SCHEMA_LISTS) {
    const list = schema[key];
    if (Array.isArray(list)) schema[key] = list.map(cleanSchema);
  }
  for (const key of SCHEMA_VALUES) if (isNode(schema[key])) schema[key] = cleanSchema(schema[key]);
  return schema;
}

/** Cleans the schema of each media type of `content`. */
function cleanContent(content: unknown): void {
  if (!isNode(content)) return;
  for (const media of Object.values(content)) if (isNode(media)) media.schema = cleanSchema(media.schema);
}

/** Operations that answer 204 with no body (Elysia documents no response without a schema). */
const NO_CONTENT: Record<string, string> = { "DELETE /webhooks/{id}": "Unsubscribed" };

/**
 * Media types of successful answers that are not the JSON of the route's response schema: Elysia
 * documents every answer as the schema's JSON (or text/plain for a string), whatever the handler
 * sends. By operation: the content of its 200, added to (or replacing) what Elysia wrote.
 */
const SUCCESS_CONTENT: Record<string, { replace: boolean; content: Node }> = {
  "GET /events": {
    replace: true,
    content: {
      "text/event-stream": {
        schema: {
          type: "string",
          description:
            "Server-Sent Events: each message is `id: <seq>` and `data: <an OrderEvent as JSON>` " +
            "(components.schemas.OrderEvent); lines starting with `:` are heartbeats",
        },
      },
    },
  },
  "GET /metrics": {
    replace: false,
    content: {
      "text/plain": {
        schema: {
          type: "string",
          description:
            "Prometheus' text format 0.0.4 (`text/plain; version=0.0.4`), answered to ?format=prometheus " +
            "or an Accept header that prefers it",
        },
      },
    },
  },
};

/**
 * Cleans one operation's parameters, body and responses; each error status's response is built
 * from the errors the route declares at that status.
 */
function cleanOperation(operation: Node, key: string, errors: readonly ErrorExample[]): void {
  if (Array.isArray(operation.parameters)) {
    for (const parameter of operation.parameters)
      if (isNode(parameter)) parameter.schema = cleanSchema(parameter.schema);
  }
  if (isNode(operation.requestBody)) cleanContent(operation.requestBody.content);
  const responses = isNode(operation.responses) ? operation.responses : {};
  for (const [status, response] of Object.entries(responses)) {
    const atStatus = errors.filter((error) => String(error.status) === status);
    if (atStatus.length > 0) {
      responses[status] = errorResponse(atStatus);
      continue;
    }
    if (!isNode(response)) continue;
    cleanContent(response.content);
    // A header's description belongs on the header, where Swagger UI shows it, not in its schema.
    for (const header of Object.values(isNode(response.headers) ? response.headers : {})) {
      if (!isNode(header) || !isNode(header.schema)) continue;
      const { description, ...schema } = cleanSchema(header.schema) as Node;
      Object.assign(header, description === undefined ? {} : { description }, { schema });
    }
  }
  if (NO_CONTENT[key]) operation.responses = { 204: { description: NO_CONTENT[key] }, ...responses };
  const success = SUCCESS_CONTENT[key];
  const ok = responses["200"];
  if (success && isNode(ok)) {
    // A copy: the document's content is changed in place later (named schemas).
    const content = structuredClone(success.content);
    ok.content = success.replace ? content : { ...(isNode(ok.content) ? ok.content : {}), ...content };
  }
}

/** Adds the response of an error of the HTTP policy to `operation`, the statuses kept in order. */
function addPolicyError(operation: Node, error: AppError): void {
  const responses = { ...(operation.responses as Node), [error.status]: errorResponse([error]) };
  operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** With keys on: a 401 where a key is needed, and `security: []` (none needed) where it is not. */
function requireKey(operation: Node, needed: boolean): void {
  if (needed) addPolicyError(operation, unauthorized());
  else operation.security = [];
}

/**
 * The document to publish, from the plugin's `generated` one (left untouched: parts of it are the
 * routes' live schemas).
 */
export function cleanDocument(generated: unknown, options: DocumentOptions): Node {
  // A JSON copy: plain data, without the schemas' symbol keys, safe to change.
  const doc = JSON.parse(JSON.stringify(generated)) as Node;
  const paths = isNode(doc.paths) ? doc.paths : {};
  const components = isNode(doc.components) ? doc.components : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isNode(item)) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (!isNode(operation)) continue;
      // An operation of a document already cleaned declares nothing: its errors are in place, and
      // it needs a key like any route that declares no access.
      const { errors, access = "key" } = takeDeclarations(operation);
      cleanOperation(operation, `${method.toUpperCase()} ${path}`, errors);
      if (options.apiKeysOn)
        requireKey(operation, !answersWithoutKey(access, options.publicSwitches ?? NO_SWITCH));
      if ((options.rateLimitPerS ?? 0) > 0 && access !== "probe")
        addPolicyError(operation, rateLimited(options.rateLimitPerS ?? 0));
    }
  }
  if (isNode(components.schemas)) {
    components.schemas = Object.fromEntries(
      Object.entries(components.schemas).map(([name, schema]) => [name, cleanSchema(schema)]),
    );
  }
  if (options.apiKeysOn) {
    components.securitySchemes = SECURITY_SCHEMES;
    // Either scheme will do.
    doc.security = Object.keys(SECURITY_SCHEMES).map((name) => ({ [name]: [] }));
  } else {
    doc.security = []; // said outright: no operation needs a key
  }
  doc.components = components;
  doc.webhooks = Object.fromEntries(
    Object.entries(webhookDocuments()).map(([name, item]) => {
      const post = (item as { post: Node }).post;
      cleanContent((post.requestBody as Node).content);
      return [name, item];
    }),
  );
  nameSchemas(doc);
  return doc;
}
