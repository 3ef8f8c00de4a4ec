/** Keeps each model's routing table in step with its DeploymentState in the store: polls, loads, swaps, retires. */
import { z } from 'zod';
import { deploymentsRoot, readDeployment, type DeploymentState } from '../lib/registry/deployment';
import { storageFor } from '../lib/storage/index';
import { MODEL_NAME_PATTERN } from './context';
import type { LoadedVersion } from './loaded-version';
import type { RoutingTable } from './router';
import { loadVersion, type BundleLoader } from './version-loader';

/** What one model serves right now: every version in `table` is loaded and warmed up. */
export interface ServedModel {
  model: string;
  revision: number;
  table: RoutingTable;
  versions: Map<string, LoadedVersion>;
}

/** A model's state as this replica sees it, for /readyz, /admin/reload and the status route. */
export interface ModelStatus {
  model: string;
  /** Revision served now; undefined until a deployment has loaded. */
  revision?: number;
  /** Revision last read from the store; differs from `revision` while a load fails. */
  desiredRevision?: number;
  /** Whether the store has been read successfully at least once. */
  checked: boolean;
  lastError?: string;
}

/** Where log lines go: a fastify/pino logger fits. */
export interface WatcherLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Options of a DeploymentWatcher. */
export interface DeploymentWatcherOptions {
  storeUri: string;
  /** Serve only these models; absent: every model with a deployment in the store, found as it appears. */
  models?: readonly string[];
  pollIntervalMs?: number;
  log?: WatcherLog;
  loadBundle?: BundleLoader;
}

// The file is written by other processes; a malformed one must not replace a working routing table.
const versionSchema = z.object({ version: z.string().min(1), modelUri: z.string().min(1) });
const deploymentSchema = z.object({
  model: z.string(),
  revision: z.number().int(),
  stable: versionSchema.optional(),
  canary: versionSchema.extend({ weight: z.number().min(0).max(100) }).optional(),
  shadow: versionSchema.extend({ percent: z.number().min(0).max(100) }).optional(),
});

const SILENT_LOG: WatcherLog = { info: () => undefined, error: () => undefined };

/** Watches the store's deployment states and keeps the loaded versions and routing tables that follow them. */
export class DeploymentWatcher {
  private readonly served = new Map<string, ServedModel>();
  private readonly statuses = new Map<string, ModelStatus>();
  // Loaded versions per model, keyed by version and URI; kept while the served or desired state names them.
  private readonly cache = new Map<string, Map<string, LoadedVersion>>();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: WatcherLog;

  constructor(private readonly options: DeploymentWatcherOptions) {
    this.log = options.log ?? SILENT_LOG;
    for (const model of options.models ?? []) this.track(model);
  }

  /** The models this replica serves or waits for: the given ones, or every one found so far. */
  models(): string[] {
    return [...this.statuses.keys()];
  }

  /** Reads every deployment once, then keeps polling. Never throws: failures show in status() and /readyz. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedulePoll();
  }

  /** Re-reads every deployment now (after any refresh already running) and answers the resulting statuses. */
  refresh(): Promise<ModelStatus[]> {
    const run = this.queue.then(() => this.refreshAll());
    this.queue = run.catch(() => undefined);
    return run;
  }

  isConfigured(model: string): boolean {
    return this.statuses.has(model);
  }

  /** The routing table and loaded versions serving a model, or undefined when none is loaded. */
  servedModel(model: string): ServedModel | undefined {
    return this.served.get(model);
  }

  status(model: string): ModelStatus | undefined {
    const status = this.statuses.get(model);
    return status && { ...status };
  }

  /** Ready when every model was read and every model that has a deployment serves one. */
  isReady(): boolean {
    return [...this.statuses.values()].every(
      (status) => status.checked && (status.desiredRevision === undefined || this.served.has(status.model)),
    );
  }

  /** Stops polling, waits for a running refresh, and frees every version once its requests finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.queue;
    for (const versions of this.cache.values()) {
      for (const loaded of versions.values()) loaded.retire();
      versions.clear();
    }
    this.served.clear();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedulePoll());
    }, this.options.pollIntervalMs ?? 1000);
    // The HTTP server keeps the process alive, not the poller.
    this.timer.unref();
  }

  private async refreshAll(): Promise<ModelStatus[]> {
    if (this.stopped) return [...this.statuses.values()].map((status) => ({ ...status }));
    if (!this.options.models) await this.discover();
    await Promise.all(this.models().map((model) => this.refreshModel(model)));
    return [...this.statuses.values()].map((status) => ({ ...status }));
  }

  private track(model: string): void {
    if (this.statuses.has(model)) return;
    this.statuses.set(model, { model, checked: false });
    this.cache.set(model, new Map());
  }

  /** Starts tracking every model that has a deployment file in the store (`deployments/<model>.json`). */
  private async discover(): Promise<void> {
    const root = deploymentsRoot(this.options.storeUri);
    let uris: string[];
    try {
      uris = await storageFor(root).list(root);
    } catch (err) {
      // Models already found keep being served; the next poll lists again.
      this.log.error({ store: this.options.storeUri }, `cannot list deployments: ${(err as Error).message}`);
      return;
    }
    for (const uri of uris) {
      // <root>/<model>.json, whatever the separator of the scheme; anything else is not a deployment.
      const name = /^([\w.-]+)\.json$/.exec(uri.slice(root.length).replace(/^[\\/]+/, ''))?.[1];
      if (name === undefined || !MODEL_NAME_PATTERN.test(name) || this.statuses.has(name)) continue;
      this.log.info({ model: name }, 'found a deployed model');
      this.track(name);
    }
  }

  private async refreshModel(model: string): Promise<void> {
    const status = this.statuses.get(model);
    if (!status) return;
    let state: DeploymentState | undefined;
    try {
      const raw = await readDeployment(this.options.storeUri, model);
      state = raw === undefined ? undefined : (deploymentSchema.parse(raw) as DeploymentState);
    } catch (err) {
      this.fail(status, `cannot read the deployment of ${model}: ${(err as Error).message}`);
      return;
    }
    status.checked = true;
    // A deployment file that disappears leaves the last routing table serving rather than dropping traffic.
    if (state === undefined) return;
    status.desiredRevision = state.revision;
    if (this.served.get(model)?.revision === state.revision) {
      status.lastError = undefined;
      return;
    }
    try {
      const next = await this.loadState(model, state);
      this.served.set(model, next);
      status.revision = next.revision;
      status.lastError = undefined;
      this.log.info({ model, revision: next.revision, table: next.table }, 'serving deployment');
    } catch (err) {
      this.fail(status, (err as Error).message);
    } finally {
      this.retireUnreferenced(model, state);
    }
  }

  private async loadState(model: string, state: DeploymentState): Promise<ServedModel> {
    const versions = new Map<string, LoadedVersion>();
    const table: RoutingTable = {};
    if (state.stable) {
      versions.set(
        state.stable.version,
        await this.loadCached(model, state.stable.version, state.stable.modelUri),
      );
      table.stable = { version: state.stable.version };
    }
    if (state.canary) {
      versions.set(
        state.canary.version,
        await this.loadCached(model, state.canary.version, state.canary.modelUri),
      );
      table.canary = { version: state.canary.version, weight: state.canary.weight };
    }
    if (state.shadow) {
      versions.set(
        state.shadow.version,
        await this.loadCached(model, state.shadow.version, state.shadow.modelUri),
      );
      table.shadow = { version: state.shadow.version, percent: state.shadow.percent };
    }
    return { model, revision: state.revision, table, versions };
  }

  private async loadCached(model: string, version: string, modelUri: string): Promise<LoadedVersion> {
    const versions = this.cache.get(model) ?? new Map<string, LoadedVersion>();
    this.cache.set(model, versions);
    const key = cacheKey(version, modelUri);
    const cached = versions.get(key);
    if (cached) return cached;
    const loaded = await loadVersion(model, version, modelUri, this.options.loadBundle);
    versions.set(key, loaded);
    this.log.info({ model, version, modelUri }, 'loaded model version');
    return loaded;
  }

  private retireUnreferenced(model: string, desired: DeploymentState): void {
    const keep = new Set<string>();
    for (const loaded of this.served.get(model)?.versions.values() ?? [])
      keep.add(cacheKey(loaded.version, loaded.modelUri));
    for (const deployed of [desired.stable, desired.canary, desired.shadow]) {
      if (deployed) keep.add(cacheKey(deployed.version, deployed.modelUri));
    }
    const versions = this.cache.get(model);
    for (const [key, loaded] of versions ?? []) {
      if (keep.has(key)) continue;
      versions?.delete(key);
      loaded.retire();
    }
  }

  private fail(status: ModelStatus, message: string): void {
    // Polling repeats the same failure every interval; log it when it changes, keep it in the status always.
    if (status.lastError !== message) this.log.error({ model: status.model }, message);
    status.lastError = message;
  }
}

function cacheKey(version: string, modelUri: string): string {
  return `${version}\u0000${modelUri}`;
}
