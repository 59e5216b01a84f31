import { Command } from "commander";
import type { Manifest, ManifestVersionEntry } from "../models/store.js";
import { renderTable } from "../ui/table.js";
import { emit, emitJson, say } from "../ui/terminal.js";
import {
  addOptions,
  helpEpilog,
  JSON_ALIAS,
  MODELS_DIR,
  outputOption,
  resolveOutput,
  type OutputFormat,
} from "./options.js";

interface ModelsFlags {
  modelsDir: string;
  output?: string;
  json?: boolean;
}

const FORMATS: readonly OutputFormat[] = ["table", "json"];

/** One version as `models list --json` prints it (snake_case, like every added JSON field). */
export interface VersionJson {
  id: string;
  active: boolean;
  created_at: string;
  data: { name: string; rows: number; sha256: string };
  best: string;
  fitted_rows: number | null;
  models: Array<{
    model: string;
    features: string;
    accuracy: number | null;
    macro_f1: number | null;
    file: string;
  }>;
}

/** The versions of a manifest, for people and for `--json`. */
export function versionsJson(
  manifest: Manifest,
  active: string,
  versions: ManifestVersionEntry[],
): { active: string; versions: VersionJson[] } {
  return {
    active,
    versions: versions.map((v) => ({
      id: v.id,
      active: v.id === active,
      created_at: v.createdAt,
      data: v.data,
      best: v.best,
      fitted_rows: v.fittedRows,
      models: v.models.map((m) => ({
        model: m.algorithm,
        features: m.featureSet,
        accuracy: m.accuracy,
        macro_f1: m.macroF1,
        file: m.file,
      })),
    })),
  };
}

const pct = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(1)}%`);

function versionsTable(list: { active: string; versions: VersionJson[] }): string {
  const rows = list.versions.map((v) => {
    const best = v.models
      .filter((m) => m.model === v.best)
      .sort((a, b) => (a.features === "timings" ? -1 : b.features === "timings" ? 1 : 0))[0];
    return [
      v.active ? `${v.id} (active)` : v.id,
      v.created_at.replace(/\.\d+Z$/, "Z"),
      `${v.data.name} (${v.data.rows} rows)`,
      v.best,
      pct(best?.accuracy ?? null),
      v.models.map((m) => `${m.model}/${m.features}`).join(", "),
    ];
  });
  return renderTable(["version", "created", "data", "best", "held-out acc.", "models"], rows);
}

/** `keystroke-id models list|use|remove`: the model versions a models directory keeps. */
export function modelsCommand(): Command {
  const cmd = new Command("models").description(
    "list the model versions a models directory keeps, roll back to one, or remove one",
  );
  const dirOption = (c: Command) => addOptions(c, [MODELS_DIR, outputOption(FORMATS), JSON_ALIAS]);
  const json = (flags: ModelsFlags) => resolveOutput(flags, FORMATS) === "json";

  cmd.addCommand(
    dirOption(
      new Command("list").description("list the kept versions, oldest first, with their held-out scores"),
    ).action(async (flags: ModelsFlags) => {
      const { activeVersionId, listVersions, readManifest } = await import("../models/store.js");
      const manifest = await readManifest(flags.modelsDir);
      const list = versionsJson(manifest, activeVersionId(manifest), listVersions(manifest));
      if (json(flags)) emitJson({ models_dir: flags.modelsDir, ...list });
      else emit(versionsTable(list));
    }),
  );
  cmd.addCommand(
    dirOption(
      new Command("use").description(
        "make a kept version the active one (a rollback); a running serve follows",
      ),
    )
      .argument("<version>", "the version id, e.g. v3 (or 3)")
      .action(async (version: string, flags: ModelsFlags) => {
        const { activateVersion, activeVersionId, listVersions, readManifest } =
          await import("../models/store.js");
        const before = activeVersionId(await readManifest(flags.modelsDir));
        const manifest = await activateVersion(flags.modelsDir, version);
        const active = activeVersionId(manifest);
        say(
          before === active
            ? `${active} is already the active version`
            : `active version: ${active} (was ${before})`,
        );
        if (json(flags))
          emitJson({
            models_dir: flags.modelsDir,
            previous: before,
            ...versionsJson(manifest, active, listVersions(manifest)),
          });
      }),
  );
  cmd.addCommand(
    dirOption(new Command("remove").description("remove a kept version that is not the active one"))
      .argument("<version>", "the version id, e.g. v2 (or 2)")
      .action(async (version: string, flags: ModelsFlags) => {
        const { activeVersionId, listVersions, normaliseVersionId, removeVersion } =
          await import("../models/store.js");
        const manifest = await removeVersion(flags.modelsDir, version);
        say(`removed ${normaliseVersionId(version)}`);
        if (json(flags))
          emitJson({
            models_dir: flags.modelsDir,
            removed: normaliseVersionId(version),
            ...versionsJson(manifest, activeVersionId(manifest), listVersions(manifest)),
          });
      }),
  );
  cmd.addHelpText(
    "after",
    helpEpilog(
      [
        "keystroke-id models list",
        "keystroke-id models use v2          # roll back; serve --watch (or SIGHUP) follows",
        "keystroke-id models remove v1 --output json",
      ],
      "The version commands print a table at a terminal and JSON when piped (--output table|json).",
    ),
  );
  return cmd;
}
