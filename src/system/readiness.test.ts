import { expect, test } from "bun:test";
import { checkWritable } from "./readiness.ts";
import type { SystemStore } from "./store.ts";

/** A store whose recent writes are `recent`; counts its probes. */
function store(recent?: ReturnType<NonNullable<SystemStore["recentWrites"]>>) {
  const probes = { count: 0 };
  const system: SystemStore = {
    countOrders: async () => ({ byStatus: {} as never, completedProcessingMs: 0 }),
    probeWrite: async () => {
      probes.count++;
    },
    ...(recent ? { recentWrites: () => recent } : {}),
  };
  return { system, probes };
}

test("a write committed in the last second is proof enough: no probe", async () => {
  const { system, probes } = store({ succeededAt: 10_000 });
  await checkWritable(system, 10_500);
  expect(probes.count).toBe(0);
  await checkWritable(system, 11_500);
  expect(probes.count).toBe(1);
});

test("a refused write: not writable for 5 s, then for up to 30 s while nothing committed since", async () => {
  const failed = { at: 10_000, message: "disk full" };
  await expect(checkWritable(store({ failed }).system, 14_000)).rejects.toThrow(
    "a write failed 4000 ms ago: disk full",
  );
  await expect(checkWritable(store({ failed }).system, 39_000)).rejects.toThrow("disk full");
  const recovered = store({ failed, succeededAt: 12_000 });
  await checkWritable(recovered.system, 16_000);
  expect(recovered.probes.count).toBe(1);
  const late = store({ failed });
  await checkWritable(late.system, 41_000);
  expect(late.probes.count).toBe(1);
});

test("a store that does not track its writes is probed every time", async () => {
  const { system, probes } = store();
  await checkWritable(system, 1);
  await checkWritable(system, 2);
  expect(probes.count).toBe(2);
});
