/**
 * `@idumb/client`: spawns idumb-daemon, speaks its protocol over stdio with
 * vscode-jsonrpc, and gives one typed call per wire method (generated.ts, made
 * from the daemon's contracts), change events, restart with backoff and resume.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

import {
  CancellationTokenSource,
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type Message,
  type MessageConnection,
} from "vscode-jsonrpc/node";

import {
  methodGroups,
  PROTOCOL_VERSION,
  type IdumbMethod,
  type IdumbMethodGroups,
  type IdumbNotifications,
  type IdumbParams,
  type IdumbResult,
  type InitializeResult,
  type WatchParams,
} from "./generated";

export * from "./generated";

/** A JSON-RPC error answered by the daemon, or one of the client's own below. */
export class IdumbError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "IdumbError";
  }
}

/** The code of a call that was in flight when the daemon exited (vscode-jsonrpc's
 * own "connection closed" code; the daemon never answers it). */
export const DAEMON_EXITED = -32097;
/** The code of every call once the client is disposed or gave up restarting. */
export const CLIENT_STOPPED = -32096;

export interface RestartOptions {
  /** First delay before a restart, doubled after each failed one. @defaultValue 100 */
  initialDelayMs?: number;
  /** @defaultValue 5000 */
  maxDelayMs?: number;
  /** Failed starts in a row after which the client gives up. @defaultValue 8 */
  maxAttempts?: number;
}

export interface StartOptions {
  /** The whole command line that starts the daemon; the client appends nothing.
   * Default: `idumb-daemon` found on PATH, else `python3 -m idumb_daemon`. */
  command?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  restart?: RestartOptions;
  /** The daemon's stderr (its log); by default it is discarded. */
  onStderr?: (text: string) => void;
}

export interface Disposable {
  dispose(): void;
}

/** A listener's registration: `ready` settles once the daemon is watching. */
export interface Subscription extends Disposable {
  readonly ready: Promise<void>;
}

type Listener<N extends keyof IdumbNotifications> = (params: IdumbNotifications[N]) => void;

interface Session {
  readonly process: ChildProcess;
  readonly connection: MessageConnection;
  /** Rejects (with DAEMON_EXITED) once the process is gone. */
  readonly closed: Promise<never>;
  readonly startedAt: number;
  initializeResult?: InitializeResult;
  /** Why the process is gone, once it is. */
  exit?: IdumbError;
}

/**
 * vscode-jsonrpc (8.2) leaves a failed write of a request as an unhandled
 * rejection, which ends a Node process by default; a write fails only when the
 * daemon is gone, and then its exit rejects the call (`Session.closed`).
 */
class ExitAwareWriter extends StreamMessageWriter {
  override async write(msg: Message): Promise<void> {
    try {
      await super.write(msg);
    } catch {
      // reported by the process's exit
    }
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export function defaultCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const found = onPath("idumb-daemon", env);
  return found ? [found] : ["python3", "-m", "idumb_daemon"];
}

function asIdumbError(error: unknown): unknown {
  if (error instanceof ResponseError) return new IdumbError(error.code, error.message, error.data);
  return error;
}

// The client's methods come from generated.ts: declaration merging gives the
// class every group that methodGroups() assigns in the constructor.
export interface IdumbClient extends IdumbMethodGroups {}

export class IdumbClient {
  private readonly command: string[];
  private readonly restart: Required<RestartOptions>;
  private current: Promise<Session>;
  private live: Session | undefined;
  private failures = 0;
  private stopped: IdumbError | undefined;
  private cancelRestart: (() => void) | undefined;
  private disposing: Promise<void> | undefined;
  private readonly settingsListeners = new Set<Listener<"settings/didChange">>();
  private readonly workspaceListeners = new Set<Listener<"workspaceConfig/didChange">>();
  private watching: Promise<void> | undefined;
  private lastRevision: number | undefined;
  private readonly restartListeners = new Set<() => void>();

  /** Spawns the daemon and resolves once it answered `initialize`. */
  static async start(options: StartOptions = {}): Promise<IdumbClient> {
    const client = new IdumbClient(options);
    await client.current;
    return client;
  }

  private constructor(private readonly options: StartOptions) {
    this.command = options.command ?? defaultCommand(options.env ?? process.env);
    if (this.command.length === 0) throw new Error("IdumbClient: command is empty");
    this.restart = {
      initialDelayMs: options.restart?.initialDelayMs ?? 100,
      maxDelayMs: options.restart?.maxDelayMs ?? 5000,
      maxAttempts: options.restart?.maxAttempts ?? 8,
    };
    Object.assign(this, methodGroups((method, params, signal) => this.request(method, params, signal)));
    this.current = this.connect();
  }

  /** The running daemon's pid (undefined between a crash and its restart). */
  get pid(): number | undefined {
    return this.live?.process.pid;
  }

  /** What the running daemon answered to `initialize`. */
  get initializeResult(): InitializeResult | undefined {
    return this.live?.initializeResult;
  }

  /** The highest `revision` a change notification carried so far. */
  get revision(): number | undefined {
    return this.lastRevision;
  }

  /** Called each time a restarted daemon answered `initialize` (and watching resumed). */
  onDidRestart(listener: () => void): Disposable {
    this.restartListeners.add(listener);
    return { dispose: () => this.restartListeners.delete(listener) };
  }

  /** Any request of the method map; the grouped calls (client.settings.get...) use it. */
  request<M extends IdumbMethod>(
    method: M,
    params: IdumbParams<M>,
    signal?: AbortSignal,
  ): Promise<IdumbResult<M>> {
    if (this.stopped) return Promise.reject(this.stopped);
    // Written at once when the daemon is up, so an abort right after the call
    // finds it on the wire and sends $/cancelRequest; else it waits for the (re)start.
    if (this.live) return this.send(this.live, method, params, signal);
    return this.current.then((session) => this.send(session, method, params, signal));
  }

  onDidChangeSettings(listener: Listener<"settings/didChange">): Subscription {
    return this.subscribe(this.settingsListeners, listener);
  }

  onDidChangeWorkspaceConfig(listener: Listener<"workspaceConfig/didChange">): Subscription {
    return this.subscribe(this.workspaceListeners, listener);
  }

  /** Sends `shutdown` and `exit`, and resolves once the process has exited
   * (a daemon being restarted is waited for, then ended the same way). */
  dispose(): Promise<void> {
    if (!this.disposing) {
      this.stopped ??= new IdumbError(CLIENT_STOPPED, "idumb client: disposed");
      this.cancelRestart?.();
      this.disposing = this.current.then(
        (session) => this.shutdown(session),
        () => undefined,
      );
    }
    return this.disposing;
  }

  private async shutdown(session: Session): Promise<void> {
    const gone = session.closed.catch(() => undefined);
    try {
      await Promise.race([session.connection.sendRequest("shutdown"), session.closed]);
      await session.connection.sendNotification("exit");
    } catch {
      // already gone: nothing to shut down
    }
    const timer = setTimeout(() => session.process.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }

  private subscribe<N extends keyof IdumbNotifications>(
    listeners: Set<Listener<N>>,
    listener: Listener<N>,
  ): Subscription {
    listeners.add(listener);
    const ready = this.startWatching();
    return {
      ready,
      dispose: () => {
        listeners.delete(listener);
        if (this.settingsListeners.size + this.workspaceListeners.size === 0 && this.watching) {
          this.watching = undefined;
          this.request("daemon/watch", { enabled: false }).catch(() => undefined);
        }
      },
    };
  }

  private startWatching(): Promise<void> {
    if (!this.watching) {
      this.watching = this.current.then((session) => this.watch(session));
      // A failure shows on `ready`; a restart tries again.
      this.watching.catch(() => undefined);
    }
    return this.watching;
  }

  private async watch(session: Session): Promise<void> {
    // `since` (PROTOCOL.md v2): resume from the last revision seen, so the daemon
    // first sends every change committed since; unknown before any notification.
    const since = this.lastRevision;
    const params = since === undefined ? { enabled: true } : { enabled: true, since };
    const result = await this.send(session, "daemon/watch", params as WatchParams);
    // A first watch starts at the revision it answers: changes after it are sent,
    // so a restart resumes from there even before any notification came. (With
    // `since`, changes up to it may still be on their way: only they move it.)
    const revision = (result as { revision?: unknown }).revision;
    if (since === undefined && typeof revision === "number") this.seen(revision);
  }

  private async send<M extends IdumbMethod>(
    session: Session,
    method: M,
    params: IdumbParams<M>,
    signal?: AbortSignal,
  ): Promise<IdumbResult<M>> {
    if (session.exit) throw session.exit;
    // Aborted before it was sent: nothing to cancel, the signal's reason rejects.
    signal?.throwIfAborted();
    const source = new CancellationTokenSource();
    const abort = (): void => source.cancel();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      const answer: Promise<IdumbResult<M>> =
        params === undefined
          ? session.connection.sendRequest(method, source.token)
          : session.connection.sendRequest(method, params, source.token);
      return await Promise.race([answer, session.closed]);
    } catch (error) {
      throw asIdumbError(error);
    } finally {
      signal?.removeEventListener("abort", abort);
      source.dispose();
    }
  }

  private seen(revision: number): void {
    if ((this.lastRevision ?? -1) < revision) this.lastRevision = revision;
  }

  private notify<N extends keyof IdumbNotifications>(
    listeners: Set<Listener<N>>,
    params: IdumbNotifications[N],
  ): void {
    const revision = (params as { revision?: unknown }).revision;
    if (typeof revision === "number") this.seen(revision);
    for (const listener of [...listeners]) listener(params);
  }

  private async connect(): Promise<Session> {
    const [file, ...args] = this.command;
    const child = spawn(file!, args, {
      cwd: this.options.cwd,
      env: this.options.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const connection = createMessageConnection(
      new StreamMessageReader(child.stdout!),
      new ExitAwareWriter(child.stdin!),
    );
    let spawnError: Error | undefined;
    child.on("error", (error) => (spawnError = error));
    child.stdin!.on("error", () => undefined);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => this.options.onStderr?.(text));
    // "close": stdout is read to its end, so no answer written before the exit is lost.
    const closed = new Promise<never>((_, reject) => {
      child.on("close", (code, signalName) => {
        const how = spawnError
          ? spawnError.message
          : signalName
            ? `killed by ${signalName}`
            : `exit status ${code}`;
        session.exit = new IdumbError(DAEMON_EXITED, `idumb-daemon exited (${how})`);
        reject(session.exit);
      });
    });
    closed.catch(() => undefined);
    const session: Session = { process: child, connection, closed, startedAt: Date.now() };
    connection.onNotification("settings/didChange", (p: IdumbNotifications["settings/didChange"]) =>
      this.notify(this.settingsListeners, p),
    );
    connection.onNotification(
      "workspaceConfig/didChange",
      (p: IdumbNotifications["workspaceConfig/didChange"]) => this.notify(this.workspaceListeners, p),
    );
    connection.onError(() => undefined);
    connection.listen();
    closed.catch(() => this.closedUnexpectedly(session));

    try {
      // Nothing is written to a process that never started: vscode-jsonrpc
      // would leave that write's failure unhandled.
      await Promise.race([new Promise((resolve) => child.once("spawn", resolve)), closed]);
      const result = await this.send(session, "initialize", {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        clientInfo: { name: "@idumb/client" },
      });
      const version = result.capabilities.experimental.idumb.protocolVersion;
      if (version !== PROTOCOL_VERSION) {
        throw new IdumbError(
          CLIENT_STOPPED,
          `idumb-daemon speaks protocol version ${version}; this client needs ${PROTOCOL_VERSION}`,
          { protocolVersion: version },
        );
      }
      session.initializeResult = result;
      await connection.sendNotification("initialized", {});
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    this.live = session;
    return session;
  }

  private closedUnexpectedly(session: Session): void {
    session.connection.dispose();
    // One that died before answering initialize is connect()'s failure instead.
    if (this.live !== session) return;
    this.live = undefined;
    this.scheduleRestart(session);
  }

  private scheduleRestart(previous: Session | undefined): void {
    if (this.stopped) return;
    // A daemon that ran for a while earns a fresh backoff.
    if (previous && Date.now() - previous.startedAt > this.restart.maxDelayMs) this.failures = 0;
    if (this.failures >= this.restart.maxAttempts) {
      this.stopped = new IdumbError(
        CLIENT_STOPPED,
        `idumb client: the daemon failed to start ${this.failures} times in a row; gave up`,
      );
      this.current = Promise.reject(this.stopped);
      this.current.catch(() => undefined);
      return;
    }
    const delay = Math.min(this.restart.maxDelayMs, this.restart.initialDelayMs * 2 ** this.failures);
    const next = new Promise<Session>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.cancelRestart = undefined;
        this.connect().then(resolve, reject);
      }, delay);
      this.cancelRestart = () => {
        clearTimeout(timer);
        reject(this.stopped);
      };
    });
    next.catch(() => undefined);
    this.current = next;
    // Only what the caller asked for comes back: watching, if it has listeners.
    if (this.watching) {
      this.watching = next.then((session) => this.watch(session));
      this.watching.catch(() => undefined);
    }
    next.then(undefined, () => {
      this.failures += 1;
      this.scheduleRestart(undefined);
    });
    (this.watching ?? next).then(
      () => this.restarted(),
      () => undefined,
    );
  }

  private restarted(): void {
    for (const listener of [...this.restartListeners]) listener();
  }
}
