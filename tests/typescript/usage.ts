// A vscode-jsonrpc client typed through the generated method map. tsc must accept
// every line, and must refuse each line under `@ts-expect-error` (else the directive
// itself is an error): so a map that lost its precision fails the check too.
import { Disposable, MessageConnection, NotificationType, RequestType } from "vscode-jsonrpc";

import type {
  IdumbMethod,
  IdumbNotification,
  IdumbNotifications,
  IdumbParams,
  IdumbResult,
  SettingsEntry,
  WorkspaceConfig,
} from "../../contracts/idumb";

export function requestType<M extends IdumbMethod>(
  method: M,
): RequestType<IdumbParams<M>, IdumbResult<M>, void> {
  return new RequestType<IdumbParams<M>, IdumbResult<M>, void>(method);
}

export function request<M extends IdumbMethod>(
  conn: MessageConnection,
  method: M,
  params: IdumbParams<M>,
): Promise<IdumbResult<M>> {
  return conn.sendRequest(requestType(method), params);
}

export function onNotification<N extends IdumbNotification>(
  conn: MessageConnection,
  method: N,
  handler: (params: IdumbNotifications[N]) => void,
): Disposable {
  return conn.onNotification(new NotificationType<IdumbNotifications[N]>(method), handler);
}

export async function session(conn: MessageConnection): Promise<string[]> {
  const seen: string[] = [];
  const init = await request(conn, "initialize", { processId: 4242, rootUri: null });
  seen.push(init.serverInfo.version, ...init.capabilities.experimental.idumb.methods);

  const entry: SettingsEntry = await request(conn, "settings/set", {
    key: "editor.fontSize",
    value: "14",
  });
  const again: SettingsEntry | null = await request(conn, "settings/get", { key: entry.key });
  const page = await request(conn, "settings/getAll", { prefix: "editor.", limit: 100 });
  seen.push(again?.updatedAt ?? "never", ...page.map((e) => e.key));

  const exported = await request(conn, "settings/export", {});
  const report = await request(conn, "settings/import", { ...exported, dryRun: true });
  seen.push(...report.added, ...report.changed, ...report.removed);

  const ws: WorkspaceConfig = await request(conn, "workspaceConfig/set", {
    projectDir: "/home/me/project",
    name: null,
    config: { theme: "dark", tabs: [2, 4] },
  });
  const recent = await request(conn, "workspaceConfig/list", {});
  seen.push(ws.projectDir, ...recent.map((w) => w.lastOpened ?? "never"));

  const status = await request(conn, "daemon/status", {});
  seen.push(status.backend, status.recovered?.from ?? "not recovered");
  const { watching } = await request(conn, "daemon/watch", { enabled: true });
  seen.push(String(watching));

  onNotification(conn, "settings/didChange", ({ changes }) => {
    seen.push(...changes.map((c) => (c.value === null ? `deleted ${c.key}` : c.key)));
  });
  onNotification(conn, "workspaceConfig/didChange", ({ changes }) => {
    seen.push(...changes.map((c) => c.workspace?.name ?? c.projectDir));
  });

  const nothing: null = await request(conn, "shutdown", undefined);
  seen.push(String(nothing));
  return seen;
}

export async function mistakes(conn: MessageConnection): Promise<void> {
  // @ts-expect-error settings/get needs a key
  await request(conn, "settings/get", {});
  // @ts-expect-error a value is a string: nothing is coerced
  await request(conn, "settings/set", { key: "k", value: 14 });
  // @ts-expect-error unknown fields are refused
  await request(conn, "settings/delete", { key: "k", force: true });
  // @ts-expect-error daemon/status takes an empty object
  await request(conn, "daemon/status", { verbose: true });
  // @ts-expect-error no such method
  await request(conn, "settings/rename", { key: "k" });
  // @ts-expect-error settings/get answers null for a missing key
  const entry: SettingsEntry = await request(conn, "settings/get", { key: "k" });
  // @ts-expect-error a time is a string, not a Date
  const when: Date = entry.updatedAt;
  // @ts-expect-error the export version is "1.0" exactly
  await request(conn, "settings/import", { version: "2.0", settings: [] });
  onNotification(conn, "settings/didChange", (params) => {
    // @ts-expect-error a settings change has no workspace
    params.changes.map((c) => c.workspace);
  });
  void when;
}
