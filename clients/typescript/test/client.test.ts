// @idumb/client against the real daemon, spawned from the repository's virtual
// environment (<repo>/.venv/bin/idumb-daemon), each test on its own SQLite file.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";

import {
  CLIENT_STOPPED,
  DAEMON_EXITED,
  defaultCommand,
  IdumbClient,
  IdumbError,
  METHODS,
  PROTOCOL_VERSION,
  type SettingsDidChangeParams,
  type WorkspaceConfigDidChangeParams,
} from "../src/index";

// dist-test/test/ -> clients/typescript -> the repository.
const REPO = resolve(__dirname, "../../../..");
const VENV_BIN = join(REPO, ".venv", "bin");
const DAEMON = join(VENV_BIN, "idumb-daemon");
const DEADLINE_MS = 20_000;

let scratch: string;
let dbCount = 0;

before(() => {
  assert.ok(existsSync(DAEMON), `${DAEMON} is missing: create the venv (README, Tests)`);
  scratch = mkdtempSync(join(tmpdir(), "idumb-client-"));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

function freshDb(): string {
  dbCount += 1;
  return join(scratch, `t${dbCount}.db`);
}

function daemonCommand(db: string): string[] {
  return [DAEMON, "serve", "--db", db];
}

/** Resolves with the first value `register` hands to its callback that `wanted` accepts. */
function next<T>(register: (cb: (value: T) => void) => { dispose(): void }, wanted: (v: T) => boolean): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error("no such event within the deadline")), DEADLINE_MS);
    const sub = register((value) => {
      if (!wanted(value)) return;
      clearTimeout(timer);
      sub.dispose();
      resolvePromise(value);
    });
  });
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

test("typed calls, grouped by the part before the slash, and request()", async () => {
  const client = await IdumbClient.start({ command: daemonCommand(freshDb()) });
  try {
    const set = await client.settings.set({ key: "editor.theme", value: "dark" });
    assert.equal(set.key, "editor.theme");
    assert.equal((await client.settings.get({ key: "editor.theme" }))?.value, "dark");
    await client.settings.setMany({ entries: [{ key: "a", value: "1" }, { key: "b", value: "2" }] });
    assert.deepEqual((await client.settings.getAll()).map((e) => e.key), ["a", "b", "editor.theme"]);
    const ws = await client.workspaceConfig.open({ projectDir: "/tmp/project" });
    assert.equal(ws.projectDir, "/tmp/project");
    assert.notEqual(ws.lastOpened, null);
    const status = await client.daemon.status();
    assert.equal(status.protocolVersion, PROTOCOL_VERSION);
    assert.equal((await client.request("settings/get", { key: "a" }))?.value, "1");
    // The generated map holds exactly the methods the daemon says it has.
    const advertised = client.initializeResult?.capabilities.experimental.idumb.methods ?? [];
    assert.deepEqual([...METHODS].sort(), [...advertised].sort());
  } finally {
    await client.dispose();
  }
});

test("errors reject with IdumbError {code, message, data}", async () => {
  const client = await IdumbClient.start({ command: daemonCommand(freshDb()) });
  try {
    const error = await client.settings.get({ key: "" }).then(
      () => assert.fail("an empty key was accepted"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof IdumbError);
    assert.equal(error.code, -32602);
    assert.ok(error.message.length > 0);
    const data = error.data as { errors: { path: string }[] };
    assert.equal(data.errors[0]?.path, "key");
  } finally {
    await client.dispose();
  }
});

test("an AbortSignal sends $/cancelRequest: a call not started is answered -32800", async () => {
  const client = await IdumbClient.start({ command: daemonCommand(freshDb()) });
  try {
    // Queued first on the storage thread, so the get behind it has not started
    // when its cancel arrives.
    const big = client.settings.import({
      version: "1.0",
      settings: Array.from({ length: 100_000 }, (_, i) => ({ key: `k${i}`, value: "v" })),
    });
    const controller = new AbortController();
    const get = client.settings.get({ key: "k1" }, controller.signal);
    controller.abort();
    const error = await get.then(
      () => assert.fail("the cancelled call was answered"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof IdumbError, String(error));
    assert.equal(error.code, -32800);
    assert.equal((await big).imported, 100_000);
  } finally {
    await client.dispose();
  }
});

test("change listeners get the notification params; watching starts with the first", async () => {
  const db = freshDb();
  const client = await IdumbClient.start({ command: daemonCommand(db) });
  const writer = await IdumbClient.start({ command: daemonCommand(db) });
  try {
    assert.equal((await client.daemon.status()).watching, false);
    const seen: SettingsDidChangeParams[] = [];
    const sub = client.onDidChangeSettings((p) => seen.push(p));
    await sub.ready;
    assert.equal((await client.daemon.status()).watching, true);
    const got = next<SettingsDidChangeParams>(
      (cb) => client.onDidChangeSettings(cb),
      (p) => p.changes.some((c) => c.key === "from.writer"),
    );
    await writer.settings.set({ key: "from.writer", value: "x" });
    const params = await got;
    assert.deepEqual(
      params.changes.map((c) => [c.key, c.value]),
      [["from.writer", "x"]],
    );
    assert.ok(seen.includes(params));
    const ws = next<WorkspaceConfigDidChangeParams>(
      (cb) => client.onDidChangeWorkspaceConfig(cb),
      () => true,
    );
    await writer.workspaceConfig.open({ projectDir: "/tmp/w" });
    assert.equal((await ws).changes[0]?.projectDir, "/tmp/w");
    sub.dispose();
  } finally {
    await writer.dispose();
    await client.dispose();
  }
});

test("a killed daemon: the call in flight rejects, the client restarts and watches again", async () => {
  const db = freshDb();
  const client = await IdumbClient.start({ command: daemonCommand(db), restart: { initialDelayMs: 10 } });
  const writer = await IdumbClient.start({ command: daemonCommand(db) });
  try {
    await client.onDidChangeSettings(() => undefined).ready;
    const first = client.pid!;
    // Stopped, the daemon cannot answer: the call is surely in flight when it dies.
    process.kill(first, "SIGSTOP");
    const restarted = new Promise<void>((r) => client.onDidRestart(r));
    const inFlight = client.settings.get({ key: "k" });
    process.kill(first, "SIGKILL");
    const error = await inFlight.then(
      () => assert.fail("answered by a killed daemon"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof IdumbError);
    assert.equal(error.code, DAEMON_EXITED);
    assert.match(error.message, /exited \(killed by SIGKILL\)/);

    await restarted;
    assert.notEqual(client.pid, first);
    assert.equal((await client.daemon.status()).watching, true);
    // Nothing was replayed: the failed get wrote nothing, and no set was re-sent.
    assert.equal(await client.settings.get({ key: "k" }), null);
    const got = next<SettingsDidChangeParams>(
      (cb) => client.onDidChangeSettings(cb),
      (p) => p.changes.some((c) => c.key === "after.restart"),
    );
    await writer.settings.set({ key: "after.restart", value: "y" });
    assert.equal((await got).changes[0]?.value, "y");
  } finally {
    await writer.dispose();
    await client.dispose();
  }
});

test("after a restart watching resumes from the last revision seen: no change is missed", async (t) => {
    const db = freshDb();
    const client = await IdumbClient.start({ command: daemonCommand(db), restart: { initialDelayMs: 10 } });
    const writer = await IdumbClient.start({ command: daemonCommand(db) });
    try {
      if (!("revision" in (await client.daemon.status()))) {
        t.skip(
          "this daemon has no revisions nor `daemon/watch {since}` (issue 15, helper W5's branch, not merged here yet)",
        );
        return;
      }
      const first = next<SettingsDidChangeParams>(
        (cb) => client.onDidChangeSettings(cb),
        (p) => p.changes.some((c) => c.key === "one"),
      );
      await client.onDidChangeSettings(() => undefined).ready;
      await writer.settings.set({ key: "one", value: "1" });
      await first;
      const seenBefore = client.revision;
      assert.notEqual(seenBefore, undefined);
      // Stopped and killed, the daemon is down while the writer commits.
      const pid = client.pid!;
      process.kill(pid, "SIGSTOP");
      const missed = next<SettingsDidChangeParams>(
        (cb) => client.onDidChangeSettings(cb),
        (p) => p.changes.some((c) => c.key === "while.down"),
      );
      await writer.settings.set({ key: "while.down", value: "2" });
      process.kill(pid, "SIGKILL");
      const params = await missed;
      assert.equal(params.changes.find((c) => c.key === "while.down")?.value, "2");
      assert.ok((client.revision ?? 0) > (seenBefore ?? 0));
    } finally {
      await writer.dispose();
      await client.dispose();
    }
});

test("dispose() sends shutdown and exit and waits for the process", async () => {
  const client = await IdumbClient.start({ command: daemonCommand(freshDb()) });
  const pid = client.pid!;
  await client.dispose();
  assert.ok(gone(pid), "the daemon still runs after dispose()");
  const error = await client.daemon.status().then(
    () => assert.fail("a disposed client answered"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof IdumbError);
});

test("a command that cannot start rejects start() with a clear error", async () => {
  const error = await IdumbClient.start({ command: [join(scratch, "no-such-daemon")] }).then(
    () => assert.fail("started a missing program"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof IdumbError);
  assert.equal(error.code, DAEMON_EXITED);
  assert.match(error.message, /ENOENT/);
  // One that starts and exits at once (a refused option: exit status 2).
  const refused = await IdumbClient.start({ command: [DAEMON, "serve", "--no-such-option"] }).then(
    () => assert.fail("started with a refused option"),
    (e: unknown) => e,
  );
  assert.ok(refused instanceof IdumbError);
  assert.equal(refused.code, DAEMON_EXITED);
  assert.match(refused.message, /exit status 2/);
});

test("dispose() while the daemon is being restarted ends it and starts no other", async () => {
  const client = await IdumbClient.start({
    command: daemonCommand(freshDb()),
    restart: { initialDelayMs: 200 },
  });
  const first = client.pid!;
  process.kill(first, "SIGKILL");
  // The in-flight view: a call made now waits for the restart, then fails with dispose.
  const waiting = client.daemon.status();
  await client.dispose();
  assert.equal(client.pid, undefined);
  const error = await waiting.then(
    () => assert.fail("answered after dispose"),
    (e: unknown) => e,
  );
  // Sent before the client saw the exit, it is a call in flight; after, it waits
  // for the restart that dispose() cancels.
  assert.ok(error instanceof IdumbError);
  assert.ok([DAEMON_EXITED, CLIENT_STOPPED].includes(error.code), String(error.code));
});

test("restarts that keep failing back off, then give up with a clear error", async () => {
  // The daemon starts only while the marker exists.
  const marker = join(scratch, "may-start");
  const script = join(scratch, "flaky-daemon.sh");
  writeFileSync(marker, "");
  writeFileSync(script, `#!/bin/sh\n[ -e "${marker}" ] || exit 3\nexec "$@"\n`, { mode: 0o755 });
  const client = await IdumbClient.start({
    command: [script, ...daemonCommand(freshDb())],
    restart: { initialDelayMs: 50, maxAttempts: 3 },
  });
  try {
    unlinkSync(marker);
    const started = Date.now();
    process.kill(client.pid!, "SIGKILL");
    // Each call waits for the restart under way; once the client gives up,
    // calls reject at once.
    let error: unknown;
    while (!(error instanceof IdumbError && error.code === CLIENT_STOPPED)) {
      error = await client.daemon.status().then(
        () => assert.fail("a daemon that cannot start answered"),
        (e: unknown) => e,
      );
      assert.ok(Date.now() - started < DEADLINE_MS, "the client never gave up");
    }
    assert.match(error.message, /failed to start 3 times in a row; gave up/);
    // 50 + 100 + 200 ms of backoff at the least before the third failure.
    assert.ok(Date.now() - started >= 350, `gave up after ${Date.now() - started} ms`);
  } finally {
    await client.dispose();
  }
});

test("the default command: idumb-daemon on PATH, else python3 -m idumb_daemon", () => {
  assert.deepEqual(defaultCommand({ PATH: VENV_BIN }), [DAEMON]);
  assert.deepEqual(defaultCommand({ PATH: "" }), ["python3", "-m", "idumb_daemon"]);
});

test("the one-file bundle: command ['python3', 'idumb-daemon.pyz']", async () => {
  const pyz = join(scratch, "idumb-daemon.pyz");
  execFileSync(DAEMON, ["bundle", "--output", pyz], { stdio: "inherit" });
  const db = freshDb();
  const client = await IdumbClient.start({
    command: ["python3", pyz, "serve", "--db", db],
    cwd: dirname(db),
  });
  try {
    await client.settings.set({ key: "from.pyz", value: "ok" });
    assert.equal((await client.settings.get({ key: "from.pyz" }))?.value, "ok");
  } finally {
    await client.dispose();
  }
});
