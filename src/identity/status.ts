import type { Store } from "../store/index.js";

/** Whether a store answers now, and (asked) how many users it holds; never throws. */
export async function storeStatus(
  store: Store,
  options: { count?: boolean } = {},
): Promise<{ ready: boolean; store: string; location: string; users?: number; error?: string }> {
  try {
    await store.ping();
    const users = options.count ? await store.identities.count() : undefined;
    return {
      ready: true,
      store: store.kind,
      location: store.location,
      ...(users !== undefined ? { users } : {}),
    };
  } catch (e) {
    return {
      ready: false,
      store: store.kind,
      location: store.location,
      error: e instanceof Error ? e.message : String(e),
    };
  }
}
