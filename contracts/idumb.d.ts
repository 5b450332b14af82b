/**
 * Every shape on the idumb-daemon wire, protocol version 2.
 *
 * Generated from the idumb_daemon.contracts package by
 * `idumb-daemon contracts --format typescript`: do not edit.
 * `IdumbRequests` maps each request method to its params and result;
 * `IdumbNotifications` maps each notification the daemon sends to its params.
 * Limits (lengths, ranges) are not types: see idumb.schema.json.
 */

export type ProtocolVersion = 2;

/** RFC 3339 UTC with whole seconds, like 2026-11-26T01:10:58Z. */
export type Time = string;

/** Any RFC 3339 time, as JavaScript's toISOString() writes one (2026-11-26T01:10:58.123Z). */
export type AnyTime = string;

/** At most 1048576 bytes as compact UTF-8 JSON. */
export type Config = JsonObject;

export type ExportVersion = "1.0";

export type JsonObject = { [key: string]: unknown };

/** A settings key as a client gives it: 1..512 code points, no control characters. */
export type Key = string;

/** An absolute POSIX path, normalised lexically once structured. */
export type ProjectDir = string;

/** At most 1048576 bytes as UTF-8. */
export type Value = string;

export interface DeleteResult {
  /** false: there was nothing to delete. */
  deleted: boolean;
}

export interface FieldError {
  /** Dotted, with array indices, relative to params ("" for params themselves). */
  path: string;
  message: string;
}

export interface InvalidParamsData {
  errors: FieldError[];
}

export interface MethodNotFoundData {
  method: string;
}

export interface SchemaTooNewData {
  reason: string;
  databaseVersion: number;
  supportedVersion: number;
}

export interface StorageErrorData {
  reason: string;
}

export interface DaemonStatus {
  version: string;
  protocolVersion: number;
  schemaVersion: number | null;
  backend: string;
  /** The database location, never with a password. */
  database: string;
  watching: boolean;
  recovered: RecoveryInfo | null;
  /** The highest committed revision; null while storage is unavailable. */
  revision: number | null;
}

export type DaemonStatusParams = Record<string, never>;

export interface RecoveryInfo {
  /** The backup the database was restored from (JSON "from"). */
  from: string;
  at: Time;
  /** Where the corrupt database was moved aside. */
  corruptFile: string;
}

export interface WatchParams {
  /**
   * false stops watching.
   * @defaultValue true
   */
  enabled?: boolean;
  /** Replay every change committed after this revision first (watching only). */
  since?: number;
}

export interface WatchResult {
  watching: boolean;
  /** The highest committed revision when it answered; 0 while storage is unavailable. */
  revision: number;
}

/**
 * One declared key: the JSON Schema its value must validate against.
 * A JSON Schema (draft 2020-12) for the key's value, with `default`, `description`, `deprecated`, and keywords of ours: `scope` ("any" or "user"), `deprecationMessage`, `renamedTo`. At most 65536 bytes as compact JSON.
 */
export type Declaration = JsonObject;

/** A Declaration per key; at most 10000 keys per owner. */
export type Declarations = JsonObject;

export interface DeclaredSetting {
  key: string;
  owner: string;
  /** As it was declared. */
  declaration: JsonObject;
}

export interface DeclareResult {
  declared: number;
}

export interface Inspection {
  key: string;
  /** Null: the key is not declared. */
  owner: string | null;
  declaration: JsonObject | null;
  default: unknown;
  user: SettingsEntry | null;
  workspace: SettingsEntry | null;
  value: unknown;
  source: Source;
  problems: Problem[];
}

export type Layer = "workspace" | "user";

export type Owner = string;

export interface Problem {
  layer: Layer;
  /** Why the stored value of that layer was skipped. */
  message: string;
}

export interface Resolved {
  key: string;
  /** Decoded: 14, not "14"; null when `source` is "none". */
  value: unknown;
  source: Source;
  /** The revision of the entry used; null for a default or none. */
  revision: number | null;
  /** The renamed key whose value was used. */
  from?: string | null;
  /** Stored values skipped because they do not validate. */
  problems?: Problem[] | null;
}

export interface SettingsDeclarationsParams {
  /** Literal, case-sensitive key prefix. */
  prefix?: string;
}

export interface SettingsDeclareParams {
  owner: Owner;
  settings: Declarations;
}

export interface SettingsInspectParams {
  key: Key;
  projectDir?: ProjectDir;
}

export interface SettingsResolveParams {
  keys?: Key[];
  /** Literal, case-sensitive key prefix; not with `keys`. */
  prefix?: string;
  /** With this project's workspace layer on top. */
  projectDir?: ProjectDir;
}

export type Source = "workspace" | "user" | "default" | "none";

export interface AgentInfo {
  id: string;
  name: string;
  description?: string | null;
}

export interface AppInfo {
  path: AppPaths;
  git?: boolean | null;
  hostname?: string | null;
}

export interface AppPaths {
  cwd: string;
  config: string;
  data: string;
}

export interface DashboardConfig {
  projectDir: string;
  port: number;
  backendPort: number;
  open: boolean;
  opencodePort?: number | null;
}

export interface EngineErrorResponse {
  error: string;
}

export interface EngineStatus {
  running: boolean;
  url?: string | null;
  projectDir?: string | null;
  port?: number | null;
}

/** An engine event: a `type` plus whatever fields that type has, kept as they came. */
export interface Event {
  type: string;
  /** Every other field, flattened beside `type` on the wire. */
  [field: string]: unknown;
}

export interface Message {
  id: string;
  role: MessageRole;
  parts: Part[];
  createdAt: Time;
}

export type MessageRole = "user" | "assistant" | "system";

export interface ModelInfo {
  id: string;
  name: string;
}

/** A message part: a `type` plus whatever fields that type has, kept as they came. */
export interface Part {
  type: string;
  /** Every other field, flattened beside `type` on the wire. */
  [field: string]: unknown;
}

export interface PortConfig {
  detect: boolean;
  autoPort: boolean;
  userPort?: number | null;
}

export interface ProviderInfo {
  id: string;
  name: string;
  models: ModelInfo[];
}

export interface Session {
  id: string;
  title?: string | null;
  createdAt: Time;
  updatedAt: Time;
  status: SessionStatus;
  parentId?: string | null;
}

export interface SessionChildrenResponse {
  children: Session[];
}

export interface SessionCreateResponse {
  session: Session;
}

export interface SessionListResponse {
  sessions: Session[];
}

export interface SessionMessage {
  info: Message;
  parts: Part[];
}

export interface SessionMessagesResponse {
  messages: SessionMessage[];
}

export interface SessionPromptRequest {
  parts: TextPart[];
}

export type SessionStatus = "pending" | "running" | "completed" | "error";

export interface SessionStatusResponse {
  status: SessionStatus;
}

export interface TextPart {
  type: "text";
  text: string;
}

export interface ExperimentalCapabilities {
  idumb: IdumbCapabilities;
}

export interface IdumbCapabilities {
  protocolVersion: number;
  methods: string[];
  notifications: string[];
}

/** LSP's InitializeParams, of which the daemon reads one field; the rest is ignored. */
export interface InitializeParams {
  /** The client's pid: the daemon exits once that process is gone. */
  processId?: number | null;
  /** Accepted and ignored by the daemon. */
  [field: string]: unknown;
}

export interface InitializeResult {
  capabilities: ServerCapabilities;
  serverInfo: ServerInfo;
}

export interface ServerCapabilities {
  experimental: ExperimentalCapabilities;
}

export interface ServerInfo {
  name: string;
  version: string;
}

export interface ImportResult {
  /** Entries in the file, whether or not they changed anything. */
  imported: number;
  added: string[];
  changed: string[];
  removed: string[];
}

export interface SettingChange {
  key: string;
  /** null: the key was deleted. */
  value: string | null;
  updatedAt: Time | null;
  /** The revision of the state reported. */
  revision: number;
  /** Null for the user layer. */
  projectDir: string | null;
}

export interface SettingInput {
  key: Key;
  value: Value;
}

export interface SettingsDeleteParams {
  key: Key;
  ifRevision?: number;
  /** The project whose workspace layer to use; omitted: the user layer. */
  projectDir?: ProjectDir;
}

export interface SettingsDidChangeParams {
  changes: SettingChange[];
  /**
   * The highest revision this notification covers: every change up to it,
   * of either kind, has been sent.
   */
  revision: number;
  /**
   * true: drop every setting held, the rows here and in the notifications
   * that follow are the whole state.
   */
  resync: boolean;
}

export interface SettingsEntry {
  key: string;
  value: string;
  /** When it was last written; null when the stored time is out of contract. */
  updatedAt: Time | null;
  /** The revision of its latest change. */
  revision: number;
  /** The project of a workspace-layer entry; null for the user layer. */
  projectDir: string | null;
}

/** The export file; `settings/export` returns it. */
export interface SettingsExport {
  version: ExportVersion;
  settings: SettingInput[];
  exportedAt?: AnyTime;
}

export type SettingsExportParams = Record<string, never>;

export interface SettingsGetAllParams {
  /** Literal, case-sensitive key prefix. */
  prefix?: string;
  /** Keyset cursor: only keys greater than this one, in code-point order. */
  after?: string;
  /** null: every matching entry. */
  limit?: number;
  /** The project whose workspace layer to use; omitted: the user layer. */
  projectDir?: ProjectDir;
}

export interface SettingsGetParams {
  key: Key;
  /** The project whose workspace layer to use; omitted: the user layer. */
  projectDir?: ProjectDir;
}

export interface SettingsImportParams {
  version: ExportVersion;
  /** No key twice. */
  settings: SettingInput[];
  exportedAt?: AnyTime;
  /**
   * Also delete the stored keys that the file lacks.
   * @defaultValue false
   */
  replace?: boolean;
  /**
   * Write nothing; report what would change.
   * @defaultValue false
   */
  dryRun?: boolean;
}

export interface SettingsSetManyEntry {
  key: Key;
  value: Value;
  ifRevision?: number | null;
}

export interface SettingsSetManyParams {
  /** No key twice. */
  entries: SettingsSetManyEntry[];
  /** The project whose workspace layer to use; omitted: the user layer. */
  projectDir?: ProjectDir;
}

export interface SettingsSetParams {
  key: Key;
  value: Value;
  /** 0: only if the key is absent; N: only if its current revision is N. */
  ifRevision?: number;
  /** The project whose workspace layer to use; omitted: the user layer. */
  projectDir?: ProjectDir;
}

export interface WorkspaceChange {
  projectDir: string;
  /** null: the workspace was deleted. */
  workspace: WorkspaceConfig | null;
  revision: number;
}

export interface WorkspaceConfig {
  projectDir: string;
  name: string | null;
  /** Set by workspaceConfig/open; null if never opened (or stored out of contract). */
  lastOpened: Time | null;
  /** Null if none, or if what is stored is not a JSON object. */
  config: JsonObject | null;
  /** The revision of its latest change. */
  revision: number;
}

export interface WorkspaceConfigDidChangeParams {
  changes: WorkspaceChange[];
  revision: number;
  resync: boolean;
}

export interface WorkspaceDeleteParams {
  projectDir: ProjectDir;
  ifRevision?: number;
}

export interface WorkspaceGetParams {
  projectDir: ProjectDir;
}

export interface WorkspaceListParams {
  /** @defaultValue 50 */
  limit?: number;
}

export interface WorkspaceOpenParams {
  projectDir: ProjectDir;
}

export interface WorkspaceSetParams {
  projectDir: ProjectDir;
  /** omitted keeps the stored name, null clears it. */
  name?: string | null;
  /** omitted keeps the stored config, null clears it. */
  config?: Config | null;
  ifRevision?: number;
}

/** Each request method with its params (`void`: none) and result. */
export interface IdumbRequests {
  "initialize": { params: InitializeParams; result: InitializeResult };
  "shutdown": { params: void; result: null };
  "settings/get": { params: SettingsGetParams; result: SettingsEntry | null };
  "settings/set": { params: SettingsSetParams; result: SettingsEntry };
  "settings/delete": { params: SettingsDeleteParams; result: DeleteResult };
  "settings/getAll": { params: SettingsGetAllParams; result: SettingsEntry[] };
  "settings/setMany": { params: SettingsSetManyParams; result: SettingsEntry[] };
  "settings/export": { params: SettingsExportParams; result: SettingsExport };
  "settings/import": { params: SettingsImportParams; result: ImportResult };
  "settings/declare": { params: SettingsDeclareParams; result: DeclareResult };
  "settings/declarations": { params: SettingsDeclarationsParams; result: DeclaredSetting[] };
  "settings/resolve": { params: SettingsResolveParams; result: Resolved[] };
  "settings/inspect": { params: SettingsInspectParams; result: Inspection };
  "workspaceConfig/get": { params: WorkspaceGetParams; result: WorkspaceConfig | null };
  "workspaceConfig/set": { params: WorkspaceSetParams; result: WorkspaceConfig };
  "workspaceConfig/open": { params: WorkspaceOpenParams; result: WorkspaceConfig };
  "workspaceConfig/list": { params: WorkspaceListParams; result: WorkspaceConfig[] };
  "workspaceConfig/delete": { params: WorkspaceDeleteParams; result: DeleteResult };
  "daemon/status": { params: DaemonStatusParams; result: DaemonStatus };
  "daemon/watch": { params: WatchParams; result: WatchResult };
}

/** Each notification the daemon sends (while watching) with its params. */
export interface IdumbNotifications {
  "settings/didChange": SettingsDidChangeParams;
  "workspaceConfig/didChange": WorkspaceConfigDidChangeParams;
}

export type IdumbMethod = keyof IdumbRequests;
export type IdumbParams<M extends IdumbMethod> = IdumbRequests[M]["params"];
export type IdumbResult<M extends IdumbMethod> = IdumbRequests[M]["result"];
export type IdumbNotification = keyof IdumbNotifications;
