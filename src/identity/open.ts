import { openStore, resolveStoreLocation, type OpenStoreOptions, type Store } from "../store/index.js";
import { importLegacyVerification, type LegacyImport } from "./legacy.js";
import { IdentityService, type IdentityServiceOptions } from "./service.js";

/** How a command reaches the identities: its --store flag (else KEYSTROKE_ID_STORE, else ./keystroke-id.db) and models dir. */
export interface OpenIdentitiesOptions extends IdentityServiceOptions, OpenStoreOptions {
  store?: string;
  /** A models dir whose old `verification/` directory is imported on first use. */
  modelsDir?: string;
}

/** An open IdentityService and what closing it takes. */
export interface OpenedIdentities {
  service: IdentityService;
  store: Store;
  legacy: LegacyImport | null;
  close(): Promise<void>;
}

/** Opens the identity store for a command or a server, importing a models dir's old templates on first use. */
export async function openIdentities(options: OpenIdentitiesOptions = {}): Promise<OpenedIdentities> {
  const store = await openStore(resolveStoreLocation(options.store), options);
  try {
    const legacy =
      options.modelsDir !== undefined ? await importLegacyVerification(store, options.modelsDir) : null;
    const service = new IdentityService(store, options);
    return {
      service,
      store,
      legacy,
      close: async () => {
        await service.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
