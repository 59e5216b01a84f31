import { afterAll, describe, expect, it } from "vitest";
import { IdentityService } from "../../src/identity/service.js";
import { exportStore, importStore } from "../../src/identity/transfer.js";
import type { Store } from "../../src/store/index.js";
import { ODD_IDS, userVectors } from "./helpers.js";

/**
 * The identity store's contract, run against every backend (sqlite-contract.test.ts, postgres-contract.test.ts):
 * `fresh()` gives an empty store, `reopen(store)` another connection to the same one (a second instance).
 */
export function storeContract(
  name: string,
  backend: { fresh(): Promise<Store>; reopen(s: Store): Promise<Store> },
): void {
  const opened: Store[] = [];
  const services: IdentityService[] = [];
  const fresh = async () => {
    const s = await backend.fresh();
    opened.push(s);
    return s;
  };
  const reopen = async (s: Store) => {
    const t = await backend.reopen(s);
    opened.push(t);
    return t;
  };
  const service = (s: Store, options: ConstructorParameters<typeof IdentityService>[1] = {}) => {
    const svc = new IdentityService(s, options);
    services.push(svc);
    return svc;
  };
  afterAll(async () => {
    for (const s of services.splice(0)) await s.close();
    for (const s of opened.splice(0)) await s.close();
  });

  describe(`identity store contract: ${name}`, () => {
    it("starts empty, enrols, shows without timings, lists in pages and verifies", async () => {
      const store = await fresh();
      expect(await store.identities.count()).toBe(0);
      expect(await store.identities.version("1")).toBeNull();
      const ids = service(store);
      // a population for the sample length, as train would store it
      await ids.enrollSamples(
        [1, 2, 3, 4, 5, 6].flatMap((u) => userVectors(u, 8).map((v) => vectorSample(v, u))),
        {},
      );
      expect(await store.identities.count()).toBe(6);
      const shown = await ids.show(3);
      expect(shown).toMatchObject({ UserID: 3, samples: 8, keys: 6 });
      expect(JSON.stringify(shown)).not.toMatch(/\[\d/);
      const page1 = await ids.list({ limit: 4 });
      const page2 = await ids.list({ after: page1.at(-1)!.id, limit: 4 });
      expect([...page1, ...page2].map((u) => u.id)).toEqual(["1", "2", "3", "4", "5", "6"]);
      const genuine = [];
      for (const v of userVectors(3, 6, 99)) genuine.push(await ids.verify(3, v));
      expect(genuine[0]).toMatchObject({ UserID: 3, replay: false });
      expect(genuine.filter((r) => r.accepted).length).toBeGreaterThanOrEqual(5);
      const impostor = [];
      for (const v of userVectors(5, 6, 99)) impostor.push(await ids.verify(3, v));
      expect(impostor.filter((r) => r.accepted).length).toBeLessThanOrEqual(1);
      await expect(ids.verify(42, userVectors(3, 1, 98)[0]!)).rejects.toMatchObject({ code: "UNKNOWN_USER" });
    });

    it("remembers replays in the store: across restarts, re-enrolments and instances", async () => {
      const store = await fresh();
      const a = service(store);
      await a.enroll("alice", userVectors(1, 10));
      const sample = userVectors(1, 1, 77)[0]!;
      expect((await a.verify("alice", sample)).replay).toBe(false);
      expect(await a.verify("alice", sample)).toMatchObject({ replay: true, accepted: false });
      // an enrolled sample is a replay
      expect((await a.verify("alice", userVectors(1, 10)[4]!)).replay).toBe(true);
      // a second instance (its own connection and cache) sees the first one's memory
      const other = await reopen(store);
      const b = service(other);
      expect((await b.verify("alice", sample)).replay).toBe(true);
      const second = userVectors(1, 1, 78)[0]!;
      expect((await b.verify("alice", second)).replay).toBe(false);
      expect((await a.verify("alice", second)).replay).toBe(true);
      // re-enrolling keeps the memory of verified samples
      await a.enroll("alice", userVectors(1, 10, 5));
      expect((await b.verify("alice", sample)).replay).toBe(true);
    });

    it("catches a replay among verifications sent at once, on one instance and across two; an unknown user fails alone", async () => {
      const store = await fresh();
      const a = service(store);
      const b = service(await reopen(store));
      await a.enroll("alice", userVectors(1, 10));
      await a.enroll("bob", userVectors(2, 10));
      const sample = userVectors(1, 1, 91)[0]!;
      const others = userVectors(1, 6, 92);
      // all sent in one turn of the event loop (SQLite writes them in one transaction): the same sample
      // three times on one instance, twice on the other, between fresh samples and an unknown user
      const sent = [
        a.verify("alice", sample),
        a.verify("alice", others[0]!),
        a.verify("alice", sample),
        b.verify("alice", sample),
        a.verify("nobody", others[1]!),
        b.verify("alice", others[2]!),
        a.verify("alice", sample),
        b.verify("alice", sample),
        b.verify("bob", userVectors(2, 1, 93)[0]!),
      ];
      const settled = await Promise.allSettled(sent);
      const replayOf = (i: number) =>
        (settled[i] as PromiseFulfilledResult<{ replay: boolean }>).value.replay;
      const same = [0, 2, 3, 6, 7];
      expect(same.map((i) => settled[i]!.status)).toEqual(same.map(() => "fulfilled"));
      // exactly one of the five copies got through: the first in the order the store wrote them
      expect(same.filter((i) => !replayOf(i)).length).toBe(1);
      expect([1, 5, 8].map(replayOf)).toEqual([false, false, false]);
      expect(settled[4]).toMatchObject({ status: "rejected", reason: { code: "UNKNOWN_USER" } });
      // and the memory holds: the sample is a replay afterwards on both
      expect((await a.verify("alice", sample)).replay).toBe(true);
      expect((await b.verify("alice", sample)).replay).toBe(true);
    });

    it("a change made through one instance reaches the other's cached template (version check)", async () => {
      const store = await fresh();
      const a = service(store);
      await a.enrollSamples(
        [1, 2, 3, 4, 5, 6].flatMap((u) => userVectors(u, 8).map((v) => vectorSample(v, u))),
      );
      const b = service(await reopen(store));
      const accepted = async (user: number, seed: number) => {
        let n = 0;
        for (const v of userVectors(user, 5, seed)) if ((await b.verify(1, v)).accepted) n++;
        return n;
      };
      expect(await accepted(1, 300)).toBeGreaterThanOrEqual(4);
      // user 1 re-enrolled (elsewhere) with user 4's rhythm: b's cached template must not be used any more
      const before = await store.identities.version("1");
      await a.enroll(1, userVectors(4, 10, 7));
      expect(await store.identities.version("1")).not.toBe(before);
      expect(await accepted(1, 301)).toBeLessThanOrEqual(1);
      expect(await accepted(4, 302)).toBeGreaterThanOrEqual(4);
      await a.delete(1);
      await expect(b.verify(1, userVectors(4, 1, 303)[0]!)).rejects.toMatchObject({ code: "UNKNOWN_USER" });
    });

    it("export and import round-trip a store, in batches; an import that stops says what landed", async () => {
      const store = await fresh();
      const a = service(store);
      await a.enrollSamples(
        [1, 2, 3, 4, 5, 6, 7].flatMap((u) => userVectors(u, 8).map((v) => vectorSample(v, u))),
      );
      const lines: string[] = [];
      for await (const line of exportStore(store)) lines.push(line.trimEnd());
      expect(lines).toHaveLength(1 + 1 + 7);
      async function* feed(ls: string[]) {
        yield* ls;
      }
      // a batch of 3 users per transaction: lines 3–5, 6–8, then 9 with the last user
      const copy = await fresh();
      const report = await importStore(copy, feed(lines), { file: "x.ndjson", batch: 3 });
      expect(report).toEqual({ users: 7, populations: 1, replaced: 0 });
      const b = service(copy);
      expect((await b.list()).map((u) => u.id)).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
      expect((await b.show(5)).samples).toBe(8);
      expect(await copy.identities.samples("5")).toEqual(await store.identities.samples("5"));
      // enrolled samples stay replays; the imported template verifies its user
      expect((await b.verify(2, userVectors(2, 8)[3]!)).replay).toBe(true);
      let accepted = 0;
      for (const v of userVectors(2, 5, 400)) if ((await b.verify(2, v)).accepted) accepted++;
      expect(accepted).toBeGreaterThanOrEqual(4);

      // a bad line in the second batch (line 7): the first batch landed whole, nothing of the second
      const bad = [...lines];
      // (the user's samples, not the template's: some detectors keep samples in the template too)
      const record = JSON.parse(bad[6]!) as { samples: unknown[][] };
      record.samples[0]!.unshift("x");
      bad[6] = JSON.stringify(record);
      const partial = await fresh();
      const err = await importStore(partial, feed(bad), { file: "bad.ndjson", batch: 3 }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "BAD_ROW", place: { file: "bad.ndjson", line: 7 } });
      expect(String((err as Error).message)).toMatch(
        /the 3 user\(s\) and 1 population\(s\) on lines 1–5 of bad\.ndjson were imported/,
      );
      expect((await partial.identities.list({ limit: 10 })).map((u) => u.id)).toEqual(["1", "2", "3"]);
      // imported again once fixed: the same store as a clean import
      expect(await importStore(partial, feed(lines), { batch: 3 })).toMatchObject({ users: 7, replaced: 3 });
      expect(await partial.identities.count()).toBe(7);

      // a bad line in the first batch: nothing at all, not even the population
      const early = [...lines];
      early[3] = "{not json";
      const none = await fresh();
      const err2 = await importStore(none, feed(early), { file: "early.ndjson", batch: 3 }).catch(
        (e: unknown) => e,
      );
      expect(err2).toMatchObject({ code: "BAD_ROW", place: { line: 4 } });
      expect(String((err2 as Error).message)).toMatch(/nothing was imported/);
      expect(await none.identities.count()).toBe(0);
      expect(await none.policy.populations()).toEqual([]);
    });

    it("import reads lines in any JSON layout to the same users, and refuses a number that is not finite", async () => {
      const store = await fresh();
      await service(store).enrollSamples(
        [1, 2, 3, 4].flatMap((u) => userVectors(u, 6).map((v) => vectorSample(v, u))),
      );
      const lines: string[] = [];
      for await (const line of exportStore(store)) lines.push(line.trimEnd());
      async function* feed(ls: string[]) {
        yield* ls;
      }
      const exported = async (s: Store) => {
        const out: string[] = [];
        for await (const line of exportStore(s)) out.push(line.replace(/"exported_at":"[^"]+"/, ""));
        return out;
      };
      // the same lines with spaces between tokens and escaped characters (serialised again on import, not
      // copied), one user's template carrying its samples (dropped from the stored template, as at enrolment)
      const spaced = lines.map((l, i) => {
        const record = JSON.parse(l) as {
          kind?: string;
          template?: Record<string, unknown>;
          samples?: unknown;
        };
        if (i === 3) record.template!.samples = record.samples;
        return i < 2
          ? l
          : JSON.stringify(record, null, 1)
              .replace(/\n\s*/g, " ")
              .replace(/"detector"/g, '"\\u0064etector"');
      });
      expect(spaced[3]).toContain(" ");
      const a = await fresh();
      const b = await fresh();
      expect(await importStore(a, feed(lines), { batch: 2 })).toMatchObject({ users: 4 });
      expect(await importStore(b, feed(spaced), { batch: 2 })).toMatchObject({ users: 4 });
      const source = await exported(store);
      expect(await exported(a)).toEqual(source);
      expect(await exported(b)).toEqual(source);
      expect(await b.identities.samples("2")).toEqual(await store.identities.samples("2"));

      // JSON's 1e999 (or 400 digits) parses to Infinity: refused, naming the line and the field
      for (const huge of ["1e999", "1" + "0".repeat(400)]) {
        const bad = [...lines];
        bad[4] = bad[4]!.replace('"calibration":{', `"calibration":{"far":${huge},`);
        expect(bad[4]).not.toBe(lines[4]);
        const c = await fresh();
        const err = await importStore(c, feed(bad), { file: "huge.ndjson", batch: 2 }).catch(
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: "BAD_ROW", place: { file: "huge.ndjson", line: 5 } });
        expect(String((err as Error).message)).toMatch(/template\.calibration\.far is not a finite number/);
        // the batch before it (lines 3-4) landed, nothing of its own
        expect(await c.identities.count()).toBe(2);
      }
      // a sample with a timing of 1e999, and a template without its detector
      const badSample = lines[2]!.replace('"samples":[[', '"samples":[[1e999,');
      const noDetector = lines[2]!.replace(/"detector":"[^"]+",/, "");
      for (const line of [badSample, noDetector]) {
        expect(line).not.toBe(lines[2]);
        const d = await fresh();
        const err = await importStore(d, feed([lines[0]!, lines[1]!, line]), { file: "bad.ndjson" }).catch(
          (e: unknown) => e,
        );
        expect(err).toMatchObject({ code: "BAD_ROW", place: { file: "bad.ndjson", line: 3 } });
        expect(await d.identities.count()).toBe(0);
      }
    });

    it("append adds samples; replace starts over; train-style enrolment never replaces", async () => {
      const store = await fresh();
      const ids = service(store);
      expect(await ids.enroll("bob", userVectors(2, 4))).toMatchObject({ samples: 4, replaced: false });
      expect(await ids.enroll("bob", userVectors(2, 3, 9), { mode: "append" })).toMatchObject({
        samples: 7,
        replaced: true,
      });
      expect((await store.identities.samples("bob")).length).toBe(7);
      expect(await ids.enroll("bob", userVectors(2, 5, 10))).toMatchObject({ samples: 5, replaced: true });
      const v = await store.identities.version("bob");
      const r = await ids.enrollSamples(
        userVectors(3, 6).map((x) => vectorSample(x, "bob")),
        { onlyNew: true },
      );
      expect(r.kept).toEqual(["bob"]);
      expect(await store.identities.version("bob")).toBe(v);
      expect((await ids.show("bob")).samples).toBe(5);
    });

    it("deletes a user's template, samples and replay hashes, and audits every change and decision", async () => {
      const store = await fresh();
      const ids = service(store, { instance: "test-instance" });
      await ids.enroll("carol", userVectors(3, 6));
      const s = userVectors(3, 1, 50)[0]!;
      await ids.verify("carol", s);
      await ids.delete("carol");
      await expect(ids.show("carol")).rejects.toMatchObject({ code: "UNKNOWN_USER" });
      await expect(ids.delete("carol")).rejects.toMatchObject({ code: "UNKNOWN_USER" });
      expect(await store.identities.samples("carol")).toEqual([]);
      // enrolled again: the sample verified before the delete is no replay any more (its hash was erased)
      await ids.enroll("carol", userVectors(3, 6, 2));
      expect((await ids.verify("carol", s)).replay).toBe(false);
      const audit = await ids.audit("carol");
      expect(audit.map((e) => e.action)).toEqual(["verify", "enrol", "delete", "verify", "enrol"]);
      expect(audit.every((e) => e.instance === "test-instance")).toBe(true);
      expect(audit[0]!.score).toBeTypeOf("number");
      expect(JSON.stringify(audit)).not.toContain(String(s[0]));
      // retention: everything older than now is pruned
      await ids.maintain(Date.now() + ids.options.auditRetentionMs + 1);
      expect(await ids.audit("carol")).toEqual([]);
    });

    it("forgets verified samples after the replay window, never enrolled ones", async () => {
      const store = await fresh();
      const ids = service(store, { replayWindowMs: 1 });
      await ids.enroll("dan", userVectors(4, 6));
      const s = userVectors(4, 1, 60)[0]!;
      await ids.verify("dan", s);
      await new Promise((r) => setTimeout(r, 5));
      expect((await ids.verify("dan", s)).replay).toBe(false);
      expect(await store.replay.prune(Date.now() + 10)).toBeGreaterThan(0);
      expect((await ids.verify("dan", userVectors(4, 6)[0]!)).replay).toBe(true);
    });

    it("takes any user id of 1 to 256 characters, and refuses empty and longer ones", async () => {
      const store = await fresh();
      const ids = service(store);
      for (const [i, id] of ODD_IDS.entries()) await ids.enroll(id, userVectors(i + 1, 4));
      for (const id of ODD_IDS) expect((await ids.show(id)).UserID).toBe(id);
      expect((await ids.list()).map((u) => u.id).sort()).toEqual(ODD_IDS.map(String).sort());
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, "samples")).toBe(false);
      await expect(ids.enroll("", userVectors(1, 4))).rejects.toMatchObject({ code: "BAD_REQUEST" });
      await expect(ids.enroll("y".repeat(257), userVectors(1, 4))).rejects.toMatchObject({
        code: "BAD_REQUEST",
      });
      // a digits-only id with leading zeros stays a string; a plain number is the number label
      await ids.enroll(42, userVectors(2, 4));
      expect((await ids.show("42")).UserID).toBe(42);
      expect((await ids.show("007")).UserID).toBe("007");
    });

    it("collects samples for /auto until enough, then verifies", async () => {
      const store = await fresh();
      const ids = service(store, { autoSamples: 4 });
      const v = userVectors(5, 6, 3);
      expect(await ids.auto("erin", v[0]!)).toEqual({ enrolled: false, samples: 1, needed: 3 });
      await expect(ids.auto("erin", v[0]!)).rejects.toMatchObject({ code: "BAD_REQUEST" });
      expect(await ids.auto("erin", v[1]!)).toMatchObject({ enrolled: false, needed: 2 });
      expect(await ids.auto("erin", v[2]!)).toMatchObject({ enrolled: false, needed: 1 });
      expect(await ids.auto("erin", v[3]!)).toMatchObject({ enrolled: true, enrolled_now: true, samples: 4 });
      expect(await ids.auto("erin", v[4]!)).toMatchObject({
        enrolled: true,
        enrolled_now: false,
        UserID: "erin",
        replay: false,
      });
    });
  });
}

function vectorSample(v: number[], label: string | number) {
  // a Sample whose timings vector is v: presses from the PPT, releases from the hold times
  const k = (v.length + 3) / 4;
  const press = [0];
  for (let i = 1; i < k; i++) press.push(press[i - 1]! + v[k + i - 1]!);
  const release = press.map((p, i) => p + v[i]!);
  return { press, release, label };
}
