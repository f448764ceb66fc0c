/**
 * The typed client as another project gets it: dist/client is what `bun run build:client` builds
 * from today's routes and names nothing of the server; `bun pm pack`'s tarball installs into a
 * scratch project, whose small client compiles (strict, TypeScript 5 and 7) against both entry
 * points, whose wrong calls do not, and which gets real answers from a live service.
 * Needs the npm registry (or Bun's cache) for the scratch project's packages and the generator.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ALLOWED_IMPORTS, buildClient, GENERATOR, importsOf } from "../scripts/build-client.ts";
import { ORDER_STATUSES } from "../src/lifecycle.ts";
import { cleanup, startService, tempDir } from "./helpers.ts";

const ROOT = join(import.meta.dir, "..");
const DIST = join(ROOT, "dist/client");
const pkg = await Bun.file(join(ROOT, "package.json")).json();

afterAll(cleanup);

/** Runs a command; its exit code and output together. */
function run(command: string[], cwd: string) {
  const result = Bun.spawnSync(command, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, output: `${result.stdout}${result.stderr}` };
}

// The client a TypeScript team would write: each library, POST /orders then GET /orders/:order_id.
const CLIENT = `import { treaty } from "@elysiajs/eden";
import createClient from "openapi-fetch";
import type { App } from "order-service/client";
import type { paths } from "order-service/openapi";

type Status = "pending" | "processing" | "completed" | "failed" | "cancelled";
const order = (order_id: string) => ({ user_id: "user_1", order_id, item_ids: ["item_1"], total_amount: 9.99 });

export async function callBoth(baseUrl: string) {
  const eden = treaty<App>(baseUrl);
  const created = await eden.orders.post(order("eden_1"));
  const read = await eden.orders({ order_id: "eden_1" }).get();
  const edenStatus: Status | undefined = read.data?.status;

  const client = createClient<paths>({ baseUrl });
  const posted = await client.POST("/orders", { body: order("fetch_1") });
  const got = await client.GET("/orders/{order_id}", { params: { path: { order_id: "fetch_1" } } });
  const fetchStatus: Status | undefined = got.data?.status;
  return {
    eden: { created: created.status, read: read.status, order_id: read.data?.order_id, status: edenStatus },
    fetch: { created: posted.response.status, read: got.response.status, order_id: got.data?.order_id, status: fetchStatus },
  };
}
`;

// Each line marked "wrong" must fail to compile, and nothing else: the types bite.
const WRONG = `import { treaty } from "@elysiajs/eden";
import createClient from "openapi-fetch";
import type { App } from "order-service/client";
import type { paths } from "order-service/openapi";

const eden = treaty<App>("http://localhost:3000");
const client = createClient<paths>({ baseUrl: "http://localhost:3000" });
const body = { user_id: "u", order_id: "o", item_ids: ["i"] };
await eden.orders.post({ ...body, totl_amount: 1 }); // wrong: no such field
await client.POST("/orders", { body: { ...body, total_amount: "9.99" } }); // wrong: a string for a number
const read = await eden.orders({ order_id: "o" }).get();
const got = await client.GET("/orders/{order_id}", { params: { path: { order_id: "o" } } });
export const statuses = [
  read.data?.stauts, // wrong: no such field
  got.data?.stauts, // wrong: no such field
  read.data?.status,
];
await client.GET("/orders/{order_id}", { params: { path: { id: "o" } } }); // wrong: the parameter is order_id
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "bundler",
    lib: ["ES2022", "DOM"],
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: true,
    noEmit: true,
  },
  files: ["client.ts"],
};

test("dist/client is what `bun run build:client` builds now, and imports only Elysia's types", async () => {
  const fresh = tempDir();
  await buildClient(fresh);
  for (const name of ["index.d.ts", "openapi.d.ts"]) {
    const committed = readFileSync(join(DIST, name), "utf8");
    // On a difference: run `bun run build:client` and commit dist/client.
    expect({ name, same: committed === readFileSync(join(fresh, name), "utf8") }).toEqual({
      name,
      same: true,
    });
    expect(importsOf(committed).filter((spec) => !ALLOWED_IMPORTS.has(spec))).toEqual([]);
    expect(committed).not.toMatch(/src\/|\.ts["']/);
  }
  expect(readdirSync(fresh).sort()).toEqual(["index.d.ts", "openapi.d.ts"]);
}, 180_000);

describe("the packed tarball in a scratch project", () => {
  const scratch = tempDir();
  const tsc5 = [process.execPath, join(scratch, "node_modules/typescript/bin/tsc")];
  const tsc7 = [join(ROOT, "node_modules/.bin/tsc")];

  beforeAll(() => {
    const packed = run([process.execPath, "pm", "pack", "--quiet", "--destination", scratch], ROOT);
    expect(packed.code).toBe(0);
    // --quiet prints only the tarball's path.
    const tarball = resolve(scratch, packed.output.trim().split("\n").at(-1) ?? "");
    const listed = run(["tar", "-tzf", tarball], scratch).output.trim().split("\n").sort();
    expect(listed).toEqual([
      "package/LICENSE",
      "package/README.md",
      "package/dist/client/index.d.ts",
      "package/dist/client/openapi.d.ts",
      "package/package.json",
    ]);
    const dependencies = {
      "order-service": `file:${tarball}`,
      "@elysiajs/eden": pkg.devDependencies["@elysiajs/eden"],
      "openapi-fetch": pkg.devDependencies["openapi-fetch"],
      elysia: pkg.dependencies.elysia,
      typescript: GENERATOR.typescript,
    };
    writeFileSync(
      join(scratch, "package.json"),
      JSON.stringify({ name: "scratch", type: "module", dependencies }),
    );
    writeFileSync(join(scratch, "tsconfig.json"), JSON.stringify(TSCONFIG));
    writeFileSync(join(scratch, "tsconfig.wrong.json"), JSON.stringify({ ...TSCONFIG, files: ["wrong.ts"] }));
    writeFileSync(join(scratch, "client.ts"), CLIENT);
    writeFileSync(join(scratch, "wrong.ts"), WRONG);
    writeFileSync(
      join(scratch, "run.ts"),
      'import { callBoth } from "./client.ts";\nconsole.log(JSON.stringify(await callBoth(process.env.ORDER_SERVICE_URL ?? "")));\n',
    );
    const installed = run([process.execPath, "install"], scratch);
    expect(installed).toMatchObject({ code: 0 });
  }, 180_000);

  test("the client compiles, strict, with TypeScript 5 and with TypeScript 7", () => {
    expect(run([...tsc5, "-p", "tsconfig.json"], scratch)).toEqual({ code: 0, output: "" });
    expect(run([...tsc7, "-p", "tsconfig.json"], scratch)).toEqual({ code: 0, output: "" });
  }, 120_000);

  test("wrong calls do not compile: each line marked wrong fails, and only those", () => {
    const wrongLines = WRONG.split("\n").flatMap((line, i) => (line.includes("// wrong") ? [i + 1] : []));
    const { code, output } = run([...tsc5, "-p", "tsconfig.wrong.json"], scratch);
    expect(code).not.toBe(0);
    const failed = [...output.matchAll(/^wrong\.ts\((\d+),\d+\): error/gm)].map(([, line]) => Number(line));
    expect([...new Set(failed)].sort((a, b) => a - b)).toEqual(wrongLines);
  }, 120_000);

  test("the client gets real answers from a live service: 201, then the order and its status", async () => {
    const { url } = await startService();
    const base = url.href.replace(/\/$/, "");
    const proc = Bun.spawn([process.execPath, "run.ts"], {
      cwd: scratch,
      env: { ...process.env, ORDER_SERVICE_URL: base },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const answers = JSON.parse(stdout);
    expect(answers.eden).toMatchObject({ created: 201, read: 200, order_id: "eden_1" });
    expect(answers.fetch).toMatchObject({ created: 201, read: 200, order_id: "fetch_1" });
    expect(ORDER_STATUSES).toContain(answers.eden.status);
    expect(ORDER_STATUSES).toContain(answers.fetch.status);
  }, 60_000);
});
