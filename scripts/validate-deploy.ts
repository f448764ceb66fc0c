/**
 * Checks deploy/: every kustomization under deploy/kubernetes rendered by `kubectl kustomize`, each
 * object validated against the Kubernetes OpenAPI schemas (kubernetes-models 5.1, generated from a
 * Kubernetes 1.34 API: it has resource.k8s.io/v1) or KEDA's ScaledObject schema
 * (@kubernetes-models/keda 2.0, generated from KEDA's v1alpha1 API types, which its CRD is
 * generated from too), an unknown kind failing; and the Grafana dashboard's PromQL naming only
 * metrics the service exports.
 *
 *   bun run validate:deploy            (test/deploy.test.ts runs the same functions in `bun run test`)
 *
 * What it cannot see: fields the schemas do not know (kubernetes-models' validators accept extra
 * properties, as a lenient API server would), and anything only a cluster decides (admission,
 * quotas, KEDA or prometheus-adapter actually running).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Secret, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/kit/logger.ts";
import { createServer } from "../src/server.ts";

const ROOT = join(import.meta.dir, "..");
/** Where the kustomizations live. */
export const KUBERNETES_DIR = join(ROOT, "deploy", "kubernetes");
/** The Grafana dashboard. */
export const DASHBOARD_FILE = join(ROOT, "deploy", "grafana", "order-service.json");

/** A Kubernetes object as parsed from YAML. */
export type Manifest = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } } & Record<
  string,
  unknown
>;

/** The kinds deploy/ may use, each with its validating model; anything else is an error. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

/** Every folder under deploy/kubernetes holding a kustomization.yaml, relative to the repository. */
export function findKustomizations(dir = KUBERNETES_DIR): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const entries = readdirSync(path).sort();
    if (entries.includes("kustomization.yaml")) found.push(relative(ROOT, path));
    for (const entry of entries) if (statSync(join(path, entry)).isDirectory()) walk(join(path, entry));
  };
  walk(dir);
  return found;
}

/** The resource files (every YAML file but the kustomizations) under deploy/kubernetes. */
export function findResourceFiles(dir = KUBERNETES_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".yaml") && !path.endsWith("kustomization.yaml"))
    .sort()
    .map((path) => relative(ROOT, join(dir, path)));
}

/** `kubectl` on PATH, or undefined. */
export function findKubectl(): string | undefined {
  return Bun.which("kubectl") ?? undefined;
}

/** `kubectl kustomize <dir>`'s output; throws with kubectl's message when it fails. */
export function renderKustomization(kubectl: string, dir: string): string {
  const run = Bun.spawnSync([kubectl, "kustomize", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${run.stderr.toString().trim()}`);
  return run.stdout.toString();
}

/** The objects of a multi-document YAML text; a syntax error throws. Empty documents are kept as null. */
export function parseManifests(text: string): unknown[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS();
  });
}

/** What is wrong with one object: not an object, an unknown kind, or its schema's complaints. */
export function validateManifest(object: unknown): string[] {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return [`not a Kubernetes object: ${JSON.stringify(object)}`];
  }
  const { apiVersion, kind, metadata } = object as Manifest;
  const key = `${String(apiVersion)}/${String(kind)}`;
  const what = `${key} ${String(metadata?.name ?? "(no name)")}`;
  const Model = MODELS[key];
  if (!Model) return [`${what}: unknown kind (known: ${Object.keys(MODELS).join(", ")})`];
  if (typeof metadata?.name !== "string" || metadata.name === "") return [`${what}: metadata.name missing`];
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${what}: ${(error as Error).message}`];
  }
}

/** The metric names an exposition in the text format 0.0.4 declares, with their types (`# TYPE`). */
export function exportedMetrics(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) {
    types.set(match[1] as string, match[2] as string);
  }
  return types;
}

// PromQL words that look like metric names but are not: keywords and binary operators.
const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool"]);
const OPERATORS = new Set(["and", "or", "unless", "offset", "atan2", "inf", "nan"]);

/**
 * The metric names a PromQL expression selects: the bare identifiers that are not functions,
 * keywords or numbers, plus any `__name__="..."` matcher. Strings, label matchers, grouping
 * clauses, ranges and Grafana's `$variables` are removed first.
 */
export function promqlMetricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const match of expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(match[1] as string);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\boffset\s+-?[0-9a-z]+/g, " ")
    .replace(/\$\{?\w+(?::\w+)?\}?/g, " ");
  for (const match of bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, word, call] = match;
    if (call || !word || KEYWORDS.has(word) || OPERATORS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Why `name` is not a series of the exposition `exported`, or undefined when it is. */
export function unknownMetric(name: string, exported: Map<string, string>): string | undefined {
  if (exported.has(name)) return undefined;
  const suffix = name.match(/^(.*)_(bucket|sum|count)$/);
  if (suffix) {
    const [, base, part] = suffix;
    const type = exported.get(base as string);
    if (type === "histogram") return undefined;
    if (type === "summary" && part !== "bucket") return undefined;
    if (type) return `${name}: ${base} is a ${type}, which has no _${part} series`;
  }
  return `${name}: not a metric the service exports`;
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows' too) and query variables. */
export function dashboardQueries(dashboard: unknown): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  const board = dashboard as {
    panels?: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[];
    templating?: { list?: { name?: string; type?: string; query?: string | { query?: string } }[] };
  };
  const visit = (panels: typeof board.panels = []) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? [])
        found.push({ where: `panel "${panel.title}"`, expr: target.expr ?? "" });
      visit(panel.panels as typeof board.panels);
    }
  };
  visit(board.panels);
  for (const variable of board.templating?.list ?? []) {
    if (variable.type !== "query") continue;
    const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
    // label_values(metric, label) and friends name their metric as the first argument.
    const expr = query.replace(/^(?:label_values|query_result)\((.*?)(?:,\s*\w+)?\)$/, "$1");
    found.push({ where: `variable $${variable.name}`, expr });
  }
  return found;
}

/** Panels that Grafana could not place or that show nothing: a repeated id, or no query (rows aside). */
function checkPanels(dashboard: unknown): string[] {
  const errors: string[] = [];
  const ids = new Set<unknown>();
  type Panel = { id?: unknown; type?: string; title?: string; targets?: unknown[]; panels?: Panel[] };
  const visit = (panels: Panel[] = []) => {
    for (const panel of panels) {
      if (ids.has(panel.id)) errors.push(`panel "${panel.title}": id ${panel.id} used twice`);
      ids.add(panel.id);
      if (panel.type !== "row" && !panel.targets?.length) errors.push(`panel "${panel.title}": no queries`);
      visit(panel.panels);
    }
  };
  visit((dashboard as { panels?: Panel[] }).panels);
  return errors;
}

/** What is wrong with a dashboard's panels, and its queries against the exposition `exported`. */
export function checkDashboard(dashboard: unknown, exported: Map<string, string>): string[] {
  const errors = checkPanels(dashboard);
  const queries = dashboardQueries(dashboard);
  if (queries.length === 0) errors.push("the dashboard has no queries");
  for (const { where, expr } of queries) {
    const names = promqlMetricNames(expr);
    if (names.length === 0) errors.push(`${where}: names no metric: ${expr}`);
    for (const name of names) {
      const problem = unknownMetric(name, exported);
      if (problem) errors.push(`${where}: ${problem}`);
    }
  }
  return errors;
}

/** What is wrong with the PromQL of the rendered objects' KEDA prometheus triggers. */
export function checkScalerQueries(objects: unknown[], exported: Map<string, string>): string[] {
  const errors: string[] = [];
  for (const object of objects as Manifest[]) {
    if (object?.kind !== "ScaledObject") continue;
    const triggers = (object.spec as { triggers?: { type?: string; metadata?: { query?: string } }[] })
      .triggers;
    for (const trigger of triggers ?? []) {
      if (trigger.type !== "prometheus") continue;
      const names = promqlMetricNames(trigger.metadata?.query ?? "");
      if (names.length === 0) errors.push(`ScaledObject ${object.metadata?.name}: a query naming no metric`);
      for (const name of names) {
        const problem = unknownMetric(name, exported);
        if (problem) errors.push(`ScaledObject ${object.metadata?.name}: ${problem}`);
      }
    }
  }
  return errors;
}

/** The dashboard file, parsed. */
export function readDashboard(path = DASHBOARD_FILE): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** The Prometheus exposition of a real service: src/server.ts on a temp SQLite file, scraped once. */
export async function scrapeRealService(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "validate-deploy-"));
  const env = { HOST: "127.0.0.1", PORT: "0", DATABASE_PATH: join(dir, "orders.db"), LOG_LEVEL: "silent" };
  const config = loadConfig(env);
  const server = await createServer(config, createLogger(config.logLevel), {
    onFatal: (reason) => {
      throw new Error(`the service failed: ${reason}`);
    },
  });
  try {
    const url = await server.start();
    const response = await fetch(new URL("/metrics?format=prometheus", url));
    if (!response.ok) throw new Error(`GET /metrics?format=prometheus answered ${response.status}`);
    return await response.text();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Renders and validates every kustomization, then the dashboard; the problems found. */
export async function validateDeploy(kubectl: string): Promise<string[]> {
  const errors: string[] = [];
  const exported = exportedMetrics(await scrapeRealService());
  for (const dir of findKustomizations()) {
    const objects = parseManifests(renderKustomization(kubectl, dir));
    if (objects.length === 0) errors.push(`${dir}: renders nothing`);
    for (const object of objects) errors.push(...validateManifest(object).map((e) => `${dir}: ${e}`));
    errors.push(...checkScalerQueries(objects, exported).map((e) => `${dir}: ${e}`));
    console.log(`${dir}: ${objects.length} objects`);
  }
  errors.push(
    ...checkDashboard(readDashboard(), exported).map((e) => `${relative(ROOT, DASHBOARD_FILE)}: ${e}`),
  );
  console.log(`${relative(ROOT, DASHBOARD_FILE)}: ${dashboardQueries(readDashboard()).length} queries`);
  return errors;
}

if (import.meta.main) {
  const kubectl = findKubectl();
  if (!kubectl) {
    console.error("kubectl not found: install it (Debian: apt-get install kubernetes-client)");
    process.exit(1);
  }
  const errors = await validateDeploy(kubectl);
  for (const error of errors) console.error(error);
  console.log(errors.length === 0 ? "deploy/: valid" : `deploy/: ${errors.length} problems`);
  process.exit(errors.length === 0 ? 0 : 1);
}
