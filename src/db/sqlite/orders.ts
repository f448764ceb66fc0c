/**
 * The orders port on SQLite: creates and changes are operations of writes.ts on the writer thread
 * (a change's guard and its event in one write); the reads run on the read-only connection.
 */
import type { NewOrder, OrderChange, Transition } from "../../records/order.ts";
import type { Adapter } from "./context.ts";

/** The orders port over `adapter`. */
export function createOrderStore({ writer, reads }: Adapter) {
  return {
    createOrder: (order: NewOrder, created: Transition) =>
      writer.run(
        "createOrder",
        {
          ...order,
          itemIds: JSON.stringify(order.itemIds),
          cart: order.cart && JSON.stringify(order.cart),
          traceParent: order.traceParent ?? null,
        },
        created,
      ),
    changeOrder: (orderId: string, change: OrderChange, now: number) =>
      writer.run("changeOrder", { orderId, change, now }),
    listOrderEvents: async (orderId: string) => reads.listOrderEvents(orderId),
    findOrder: async (orderId: string) => reads.findOrder(orderId),
    findOrderStatus: async (orderId: string) => reads.findOrderStatus(orderId),
    listOrders: async (filter: Parameters<typeof reads.listOrders>[0]) => reads.listOrders(filter),
  };
}
