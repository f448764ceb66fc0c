/**
 * deploy/: the Kubernetes manifests and the Grafana dashboard (scripts/validate-deploy.ts).
 * Every kustomization is rendered by the real `kubectl kustomize` and each object validated against
 * the Kubernetes and KEDA schemas; the rendered objects are then held to what the service needs
 * (probes on its routes, a grace period longer than its drain, the Dockerfile's user, secret keys
 * that exist, one SQLite pod). Without kubectl those tests are skipped with a warning, unless
 * REQUIRE_KUBECTL=1 (.ci/run sets it), which makes a missing kubectl a failure. The dashboard's and
 * the ScaledObject's PromQL are checked against the metrics of a real service.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  checkDashboard,
  checkScalerQueries,
  exportedMetrics,
  findKubectl,
  findKustomizations,
  findResourceFiles,
  parseManifests,
  promqlMetricNames,
  readDashboard,
  renderKustomization,
  unknownMetric,
  validateManifest,
} from "../scripts/validate-deploy.ts";
import { cleanup, cli, startService, tempDir } from "./helpers.ts";

const ROOT = join(import.meta.dir, "..");
const KUBECTL = findKubectl();
const REQUIRE_KUBECTL = process.env.REQUIRE_KUBECTL === "1";
if (!KUBECTL && !REQUIRE_KUBECTL) {
  console.warn(
    "test/deploy.test.ts: no kubectl on PATH, so the kustomize renderings are NOT checked here " +
      "(Debian: apt-get install kubernetes-client; REQUIRE_KUBECTL=1 turns this into a failure)",
  );
}

// The Dockerfile's runtime user; the pods must run as it (its files and /data belong to it).
const IMAGE_USER = Number(readFileSync(join(ROOT, "Dockerfile"), "utf8").match(/^USER (\d+)/m)?.[1]);
// Variables the service reads (.env.example lists every one: test/env-example.test.ts), plus Bun's own.
const KNOWN_ENV = new Set(
  [...readFileSync(join(ROOT, ".env.example"), "utf8").matchAll(/^(?:# ?)?([A-Z][A-Z0-9_]*)=/gm)]
    .map((m) => m[1] as string)
    .concat("BUN_RUNTIME_TRANSPILER_CACHE_PATH"),
);

afterAll(cleanup);

const DEPLOYMENT = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "x" },
  spec: {
    selector: { matchLabels: { app: "x" } },
    template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "x" }] } },
  },
};

describe("the validator", () => {
  test("passes a good object and rejects a wrong field type, an unknown kind, and an empty document", () => {
    expect(validateManifest(DEPLOYMENT)).toEqual([]);
    const broken = { ...DEPLOYMENT, spec: { ...DEPLOYMENT.spec, replicas: "two" } };
    expect(validateManifest(broken).join()).toContain("spec/replicas must be integer");
    expect(validateManifest({ ...DEPLOYMENT, kind: "Ingress" }).join()).toContain("unknown kind");
    expect(validateManifest({ ...DEPLOYMENT, apiVersion: "apps/v1beta1" }).join()).toContain("unknown kind");
    // What kustomize 2.0.3 leaves of a `$patch: delete` (deploy/kubernetes/overlays/sqlite says why).
    expect(validateManifest(parseManifests("{}\n---\n")[0]).join()).toContain("unknown kind");
    expect(validateManifest(null).join()).toContain("not a Kubernetes object");
  });

  test("checks a ScaledObject against KEDA's schema", () => {
    const scaled = {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "x" },
      spec: {
        scaleTargetRef: { name: "x" },
        triggers: [{ type: "prometheus", metadata: { threshold: "5" } }],
      },
    };
    expect(validateManifest(scaled)).toEqual([]);
    const numeric = structuredClone(scaled);
    (numeric.spec.triggers[0] as any).metadata.threshold = 5;
    expect(validateManifest(numeric).join()).toContain("must be string");
    expect(validateManifest({ ...scaled, spec: { scaleTargetRef: { name: "x" } } }).join()).toContain(
      "triggers",
    );
  });

  test("finds the metric names of PromQL and maps histogram series back to their metric", () => {
    expect(
      promqlMetricNames(
        'sum by (le) (rate(a_bucket{job=~"$job", x="y(z)"}[$__rate_interval] offset 5m)) / on(i) group_left b',
      ),
    ).toEqual(["a_bucket", "b"]);
    expect(promqlMetricNames('{__name__="c"} > bool 1e3 and nan')).toEqual(["c"]);
    const exported = exportedMetrics("# TYPE h histogram\n# TYPE g gauge\n# TYPE c_total counter\n");
    expect(unknownMetric("h_bucket", exported)).toBeUndefined();
    expect(unknownMetric("h_count", exported)).toBeUndefined();
    expect(unknownMetric("c_total", exported)).toBeUndefined();
    expect(unknownMetric("g_bucket", exported)).toContain("g is a gauge");
    expect(unknownMetric("c", exported)).toContain("not a metric the service exports");
    const board = { panels: [{ title: "p", targets: [{ expr: "rate(h_sum[1m]) / rate(missing[1m])" }] }] };
    expect(checkDashboard(board, exported)).toEqual(['panel "p": missing: not a metric the service exports']);
    expect(checkDashboard({ panels: [] }, exported)).toEqual(["the dashboard has no queries"]);
    const twins = {
      panels: [
        { id: 1, title: "a", targets: [{ expr: "g" }] },
        { id: 1, title: "b" },
      ],
    };
    expect(checkDashboard(twins, exported)).toEqual(['panel "b": id 1 used twice', 'panel "b": no queries']);
  });
});

describe("the resource files, each as written (no kubectl needed)", () => {
  for (const file of findResourceFiles()) {
    test(file, () => {
      const objects = parseManifests(readFileSync(join(ROOT, file), "utf8"));
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.flatMap(validateManifest)).toEqual([]);
    });
  }
});

type Rendered = Map<string, any[]>;
const rendered: Rendered = new Map();
const find = (dir: string, kind: string) => (rendered.get(dir) ?? []).filter((o) => o.kind === kind);
const one = (dir: string, kind: string) => {
  const found = find(dir, kind);
  expect(found.length).toBe(1);
  return found[0];
};

/** The checks every pod template of the service must pass, whatever runs it. */
function checkPodTemplate(template: any, secrets: any[]) {
  const pod = template.spec;
  const [container] = pod.containers;
  const env = new Map<string, any>(container.env.map((e: any) => [e.name, e]));
  for (const name of env.keys()) expect(KNOWN_ENV).toContain(name);
  // Probes on the service's own routes, at the container's port.
  expect(container.ports).toContainEqual({ name: "http", containerPort: Number(env.get("PORT").value) });
  expect(container.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
  expect(container.readinessProbe.httpGet).toEqual({ path: "/ready", port: "http" });
  expect(container.startupProbe.httpGet.path).toBe("/health");
  // SIGKILL only after preStop and the whole drain, with time to spare.
  const drainMs = Number(env.get("SHUTDOWN_TIMEOUT_MS").value);
  const preStopMs = container.lifecycle.preStop.sleep.seconds * 1000;
  expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs + preStopMs);
  // Non-root as the image's user, read-only root, nothing to escalate to.
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: IMAGE_USER });
  expect(container.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  });
  expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  expect(container.resources.limits.memory).toEqual(expect.any(String));
  // Every secret it reads exists, with that key.
  for (const { valueFrom } of env.values()) {
    if (!valueFrom?.secretKeyRef) continue;
    const { name, key } = valueFrom.secretKeyRef;
    const secret = secrets.find((s) => s.metadata.name === name);
    expect(Object.keys(secret?.stringData ?? {})).toContain(key);
  }
  return { container, env };
}

describe.skipIf(!KUBECTL && !REQUIRE_KUBECTL)("the kustomizations, rendered by kubectl kustomize", () => {
  beforeAll(() => {
    if (!KUBECTL) throw new Error("REQUIRE_KUBECTL=1 but no kubectl on PATH (Debian: kubernetes-client)");
    for (const dir of findKustomizations()) {
      rendered.set(dir, parseManifests(renderKustomization(KUBECTL, dir)));
    }
  });

  test("every kustomization renders, and every object is valid", () => {
    expect([...rendered.keys()]).toEqual(
      expect.arrayContaining(["deploy/kubernetes/base", "deploy/kubernetes/overlays/sqlite"]),
    );
    for (const [dir, objects] of rendered) {
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.flatMap(validateManifest).map((e) => `${dir}: ${e}`)).toEqual([]);
    }
  });

  test("base: the PostgreSQL Deployment, its Service, budget, ScaledObject and migration Job fit together", async () => {
    const base = "deploy/kubernetes/base";
    const deployment = one(base, "Deployment");
    const { env } = checkPodTemplate(deployment.spec.template, find(base, "Secret"));
    expect(env.get("DATABASE_URL").valueFrom.secretKeyRef.key).toBe("DATABASE_URL");
    expect(env.get("API_KEYS").valueFrom.secretKeyRef.key).toBe("API_KEYS");
    // The autoscaler owns the replica count; a new pod is ready before an old one goes.
    expect(deployment.spec.replicas).toBeUndefined();
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const podLabels = deployment.spec.template.metadata.labels;
    expect(podLabels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(podLabels).toMatchObject(one(base, "Service").spec.selector);
    expect(podLabels).toMatchObject(one(base, "PodDisruptionBudget").spec.selector.matchLabels);
    expect(one(base, "ScaledObject").spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    // The migration Job runs the CLI's migrate on the same image: run that command here for real.
    const job = one(base, "Job");
    const [migrate] = job.spec.template.spec.containers;
    expect(migrate.image).toBe(deployment.spec.template.spec.containers[0].image);
    expect(migrate.args.slice(0, 1)).toEqual(["src/cli.ts"]);
    const run = await cli(migrate.args.slice(1), { DATABASE_PATH: join(tempDir(), "orders.db") });
    expect(run.code).toBe(0);
  });

  test("overlays/hpa: the HPA scales the same Deployment, and no ScaledObject competes with it", () => {
    const hpa = one("deploy/kubernetes/overlays/hpa", "HorizontalPodAutoscaler");
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "order-service",
    });
    expect(find("deploy/kubernetes/overlays/hpa", "ScaledObject")).toEqual([]);
  });

  test("overlays/sqlite: one StatefulSet pod on its own volume, nothing that would start a second", () => {
    const sqlite = "deploy/kubernetes/overlays/sqlite";
    const set = one(sqlite, "StatefulSet");
    const { container, env } = checkPodTemplate(set.spec.template, find(sqlite, "Secret"));
    expect(set.spec.replicas).toBe(1);
    expect(set.spec.podManagementPolicy).toBe("OrderedReady");
    expect(set.spec.template.spec.securityContext.fsGroup).toBe(IMAGE_USER);
    // The database file lies on the claim's volume.
    const [claim] = set.spec.volumeClaimTemplates;
    const mount = container.volumeMounts.find((m: any) => m.name === claim.metadata.name);
    expect(dirname(env.get("DATABASE_PATH").value)).toBe(mount.mountPath);
    expect(env.has("DATABASE_URL")).toBe(false);
    expect(Object.keys(one(sqlite, "Secret").stringData)).not.toContain("DATABASE_URL");
    for (const kind of [
      "Deployment",
      "ScaledObject",
      "HorizontalPodAutoscaler",
      "PodDisruptionBudget",
      "Job",
    ]) {
      expect(find(sqlite, kind)).toEqual([]);
    }
  });
});

describe("the PromQL of deploy/, against a real service's metrics", () => {
  let exported: Map<string, string>;
  beforeAll(async () => {
    const { url } = await startService();
    const response = await fetch(new URL("/metrics?format=prometheus", url));
    exported = exportedMetrics(await response.text());
    expect(exported.get("orders")).toBe("gauge");
  });

  test("the Grafana dashboard names only metrics the service exports", () => {
    expect(checkDashboard(readDashboard(), exported)).toEqual([]);
  });

  test("the ScaledObject's query names the backlog gauge", () => {
    const objects = parseManifests(
      readFileSync(join(ROOT, "deploy/kubernetes/base/scaledobject.yaml"), "utf8"),
    );
    expect(checkScalerQueries(objects, exported)).toEqual([]);
    const [trigger] = (objects[0] as any).spec.triggers;
    expect(trigger.metadata.query).toBe('max(orders{status="pending"})');
  });
});
