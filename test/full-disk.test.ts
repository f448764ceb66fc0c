/**
 * A full disk, for real: the service's database on a 3 MB tmpfs. Writes fail with 503 and never a
 * false 201, /ready says not ready (idle and under load) while writes fail, and a shutdown that
 * cannot close the database cleanly exits non-zero. Mounting needs root (CI runs as root); where
 * it cannot mount, the test is skipped and says so.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "bun";
import { call, cleanup, order, spawnService, startupError, waitFor } from "./helpers.ts";

const mounts: string[] = [];
afterEach(async () => {
  await cleanup(); // the service first, then its disk
  unmountAll();
});

function unmountAll(): void {
  for (const dir of mounts.splice(0)) {
    spawnSync(["umount", "-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A tmpfs of `size` mounted on a fresh folder, or undefined where mounting is not allowed. */
function smallDisk(size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "orders-disk-"));
  mounts.push(dir);
  const mounted = spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  return mounted.exitCode === 0 ? dir : undefined;
}

const canMount = (() => {
  const dir = smallDisk("64k");
  unmountAll();
  if (!dir) console.warn("full-disk test skipped: this user cannot mount a tmpfs (run as root)");
  return Boolean(dir);
})();

// ~100 KB per order: the disk fills after a couple dozen.
const big = (id: string) =>
  order(id, { item_ids: Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(100, "x")) });

test.skipIf(!canMount)(
  "on a full disk: 503s and no false 201, /ready not ready, shutdown exits non-zero",
  async () => {
    const disk = smallDisk("3m") as string;
    const service = await spawnService({
      DATABASE_PATH: join(disk, "orders.db"),
      PROCESSING_TIME_MS: "0",
      SHUTDOWN_TIMEOUT_MS: "500",
    });
    const accepted: string[] = [];
    let refused = 0;
    for (let i = 0; i < 200 && refused < 5; i++) {
      const res = await call(service.url, "POST", "/orders", big(`fill-${i}`));
      if (res.status === 201) accepted.push(`fill-${i}`);
      else {
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe("STORAGE_UNAVAILABLE");
        refused++;
      }
    }
    expect(refused).toBe(5);
    expect(accepted.length).toBeGreaterThan(0);

    // Idle: every check says not ready while the last writes failed.
    for (let i = 0; i < 20; i++) {
      const ready = await call(service.url, "GET", "/ready");
      expect(ready.status).toBe(503);
      expect(ready.body.error.code).toBe("NOT_READY");
    }
    // Under load: writes keep failing, and so does every check made meanwhile.
    const load = Array.from({ length: 20 }, (_, i) => call(service.url, "POST", "/orders", big(`more-${i}`)));
    const checks = await Promise.all(Array.from({ length: 4 }, () => call(service.url, "GET", "/ready")));
    expect((await Promise.all(load)).every((res) => res.status === 503)).toBe(true);
    expect(checks.map((res) => res.status)).toEqual([503, 503, 503, 503]);

    // Every order answered 201 is there.
    for (const id of accepted)
      expect((await call(service.url, "GET", `/orders/${id}/status`)).status).toBe(200);

    service.proc.kill("SIGTERM");
    const code = await service.proc.exited;
    await waitFor(() => service.output().includes("shutting down"));
    expect(code).not.toBe(0);
    expect(service.output()).not.toContain("stopped cleanly");
  },
);

test.skipIf(!canMount)(
  "a database on a read-only mount: exit 1 before listening, one JSON line naming it",
  async () => {
    const disk = smallDisk("1m") as string;
    spawnSync(["mount", "-o", "remount,ro", disk]);
    const proc = Bun.spawn(["bun", "src/main.ts"], {
      cwd: join(import.meta.dir, ".."),
      env: {
        ...process.env,
        HOST: "127.0.0.1",
        PORT: "0",
        DATABASE_PATH: join(disk, "orders.db"),
        LOG_LEVEL: "info",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await proc.exited).toBe(1);
    const stdout = await new Response(proc.stdout).text();
    const logged = startupError(await new Response(proc.stderr).text());
    expect(stdout).not.toContain("listening");
    expect(logged).toMatchObject({ level: "error", setting: "DATABASE_PATH" });
    expect(logged.message).toContain(join(disk, "orders.db"));
  },
);
