import { afterEach, describe, expect, it } from "vitest";
import { IdentityService } from "../../src/identity/service.js";
import type { ModelDir } from "../../src/models/store.js";
import { openStore, type Store } from "../../src/store/index.js";
import type { KeystrokeServer } from "../../src/server/app.js";
import { fakeModel } from "../predict/fakes.js";
import { ODD_IDS, rawSample, tempStorePath } from "../store/helpers.js";
import { fakeModelDir, serverHarness } from "./harness.js";

function fakeDir(): ModelDir {
  return fakeModelDir([fakeModel("RF", "summary", null, [0.2, 0.5, 0.3])]);
}

const harness = serverHarness({ loadModels: async () => fakeDir() });
const opened: Array<{ store: Store; ids: IdentityService }> = [];
afterEach(async () => {
  await harness.closeAll();
  for (const o of opened.splice(0)) {
    await o.ids.close();
    await o.store.close();
  }
});

async function serverOn(
  path: string,
  extra: Parameters<typeof harness.make>[0] = {},
): Promise<KeystrokeServer> {
  const store = await openStore(path);
  const ids = new IdentityService(store, { autoSamples: 4 });
  opened.push({ store, ids });
  return harness.make({ identities: ids, ...extra });
}

const ADMIN = { authorization: "Bearer adm1n" };
const send = (
  s: KeystrokeServer,
  method: "GET" | "POST" | "DELETE",
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
) =>
  s.app.inject({
    method,
    url,
    ...(body !== undefined
      ? { payload: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } }
      : { headers }),
  });
const samples = (user: number, n: number, seed = 1) =>
  Array.from({ length: n }, (_, i) => rawSample(user, seed * 100 + i));

describe("identity routes over a real SQLite store", () => {
  it("enrols, shows, appends, verifies and deletes over HTTP; admin routes need the admin token", async () => {
    const s = await serverOn(tempStorePath(), { token: "ver1fy", adminToken: "adm1n" });
    const VERIFY = { authorization: "Bearer ver1fy" };
    const enrol = { UserID: "alice", samples: samples(1, 6) };
    expect((await send(s, "POST", "/enroll", enrol)).statusCode).toBe(401);
    expect((await send(s, "POST", "/enroll", enrol, VERIFY)).statusCode).toBe(401);
    const r = await send(s, "POST", "/enroll", enrol, ADMIN);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ UserID: "alice", samples: 6, replaced: false });
    const shown = await send(s, "GET", "/users/alice", undefined, ADMIN);
    expect(shown.json()).toMatchObject({ UserID: "alice", samples: 6, keys: 6 });
    expect(shown.body).not.toMatch(/press|release|\[\d/);
    expect((await send(s, "GET", "/users/alice", undefined, VERIFY)).statusCode).toBe(401);
    expect(
      (
        await send(s, "POST", "/enroll", { ...enrol, samples: samples(1, 2, 2), mode: "append" }, ADMIN)
      ).json(),
    ).toMatchObject({ samples: 8, replaced: true });
    // the admin token opens verify routes too; the verify token verifies
    const v = await send(s, "POST", "/verify", { ...rawSample(1, 999), UserID: "alice" }, VERIFY);
    expect(v.statusCode).toBe(200);
    expect(v.json()).toMatchObject({ UserID: "alice", replay: false });
    expect(
      (await send(s, "POST", "/verify", { ...rawSample(1, 999), UserID: "alice" }, ADMIN)).json(),
    ).toMatchObject({ replay: true, accepted: false });
    const audit = (await send(s, "GET", "/users/alice/audit", undefined, ADMIN)).json();
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual([
      "verify",
      "verify",
      "append",
      "enrol",
    ]);
    expect((await send(s, "DELETE", "/users/alice", undefined, ADMIN)).json()).toEqual({
      UserID: "alice",
      deleted: true,
    });
    expect((await send(s, "DELETE", "/users/alice", undefined, ADMIN)).statusCode).toBe(404);
    expect((await send(s, "GET", "/users/alice", undefined, ADMIN)).statusCode).toBe(404);
    expect(
      (await send(s, "POST", "/verify", { ...rawSample(1, 998), UserID: "alice" }, VERIFY)).statusCode,
    ).toBe(404);
  });

  it("refuses admin routes with only a verify token configured (403), opens them on an open server", async () => {
    const only = await serverOn(tempStorePath(), { token: "ver1fy" });
    expect(
      (
        await send(
          only,
          "POST",
          "/enroll",
          { UserID: "x", samples: samples(1, 3) },
          { authorization: "Bearer ver1fy" },
        )
      ).statusCode,
    ).toBe(403);
    const open = await serverOn(tempStorePath());
    expect((await send(open, "POST", "/enroll", { UserID: "x", samples: samples(1, 3) })).statusCode).toBe(
      200,
    );
  });

  it("takes odd user ids in bodies and URLs, refuses empty and too long ones, and names bad fields", async () => {
    const s = await serverOn(tempStorePath());
    for (const [i, id] of ODD_IDS.entries()) {
      const r = await send(s, "POST", "/enroll", { UserID: id, samples: samples(i + 1, 3) });
      expect(r.statusCode, `${String(id)}: ${r.body}`).toBe(200);
      const shown = await send(s, "GET", `/users/${encodeURIComponent(String(id))}`);
      expect(shown.statusCode, String(id)).toBe(200);
      expect(shown.json().UserID).toBe(id);
    }
    expect((await send(s, "POST", "/enroll", { UserID: "", samples: samples(1, 3) })).json()).toMatchObject({
      field: "UserID",
    });
    expect(
      (await send(s, "POST", "/enroll", { UserID: "u".repeat(257), samples: samples(1, 3) })).statusCode,
    ).toBe(400);
    expect((await send(s, "GET", `/users/${"u".repeat(257)}`)).statusCode).toBe(400);
    const bad = await send(s, "POST", "/enroll", {
      UserID: "z",
      samples: [samples(1, 1)[0], { press: [0, 5], release: [1] }],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toBe("samples[1].release");
    expect(
      (await send(s, "POST", "/enroll", { UserID: "z", samples: samples(1, 3), mode: "merge" })).json(),
    ).toMatchObject({ field: "mode" });
    expect((await send(s, "POST", "/enroll", { UserID: "z", samples: samples(1, 2) })).statusCode).toBe(400);
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "samples")).toBe(false);
  });

  it("POST /auto/:id enrols until enough samples, saying how many are missing, then verifies", async () => {
    const s = await serverOn(tempStorePath());
    const got = [];
    for (const x of samples(2, 5)) got.push((await send(s, "POST", "/auto/bob", x)).json());
    expect(got.slice(0, 3)).toEqual([
      { enrolled: false, samples: 1, needed: 3 },
      { enrolled: false, samples: 2, needed: 2 },
      { enrolled: false, samples: 3, needed: 1 },
    ]);
    expect(got[3]).toMatchObject({ enrolled: true, enrolled_now: true, samples: 4 });
    expect(got[4]).toMatchObject({ enrolled: true, enrolled_now: false, UserID: "bob", replay: false });
  });

  it("two server instances on one store share users and the replay memory", async () => {
    const path = tempStorePath();
    const a = await serverOn(path);
    const b = await serverOn(path);
    expect((await send(a, "POST", "/enroll", { UserID: 7, samples: samples(3, 6) })).statusCode).toBe(200);
    const sample = { ...rawSample(3, 4242), UserID: 7 };
    expect((await send(b, "POST", "/verify", sample)).json()).toMatchObject({ UserID: 7, replay: false });
    expect((await send(a, "POST", "/verify", sample)).json()).toMatchObject({
      replay: true,
      accepted: false,
    });
    // a re-enrolment through b is seen by a at once (version check, not a stale cache)
    expect((await send(b, "POST", "/enroll", { UserID: 7, samples: samples(3, 3, 9) })).statusCode).toBe(200);
    expect((await send(a, "GET", "/users/7")).json()).toMatchObject({ samples: 3 });
    expect((await send(a, "POST", "/verify", sample)).json()).toMatchObject({ replay: true });
    const health = await send(a, "GET", "/health");
    expect(health.json()).toEqual({ status: "ok", ready: true, store: "ok" });
    const status = (await send(a, "GET", "/status")).json();
    expect(status.verification).toMatchObject({ ready: true, store: "sqlite", users: 1 });
  });
});
