/**
 * Several prediction server processes on one port (node:cluster): one Node process uses one core,
 * so a server uses the machine's cores by running one worker process per core, each with its own
 * models and micro-batcher. The primary only forks, restarts and relays:
 * - `GET /metrics` on any worker answers every worker's metrics summed (prom-client's
 *   AggregatorRegistry), so canary analysis still sees every request;
 * - admin actions (reload, faults) received by one worker are run by every worker before the
 *   answer, so a rollout that reloads "the replica" has reloaded all of its processes.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** What every worker does when one of them is asked to. */
export type AdminAction =
  { kind: 'reload' } | { kind: 'set-fault'; fault: unknown } | { kind: 'clear-faults' };

type ToPrimary =
  | { type: 'mlops:metrics'; id: number }
  | { type: 'mlops:broadcast'; id: number; action: AdminAction }
  | { type: 'mlops:action-done'; id: number; result: unknown };

type ToWorker =
  | { type: 'mlops:metrics-result'; id: number; text?: string; error?: string }
  | { type: 'mlops:broadcast-result'; id: number; results?: unknown[]; error?: string }
  | { type: 'mlops:action'; id: number; action: AdminAction };

const isMessage = (message: unknown): message is { type: string; id: number } =>
  typeof message === 'object' &&
  message !== null &&
  typeof (message as { type?: unknown }).type === 'string' &&
  (message as { type: string }).type.startsWith('mlops:');

/** How long the primary waits for every worker to answer a relayed action. */
const RELAY_TIMEOUT_MS = 10_000;

/** A worker's link to its siblings, through the primary. */
export interface ClusterLink {
  /** Every worker's metrics, summed, in Prometheus text format. */
  metrics(): Promise<string>;
  /** Runs `action` on every worker (this one too) and answers each one's result. */
  broadcast(action: AdminAction): Promise<unknown[]>;
}

/**
 * In a cluster worker: exposes `registry` to the primary's aggregation, runs relayed actions with
 * `run`, and answers the link the server's routes use.
 */
export function joinCluster(registry: Registry, run: (action: AdminAction) => Promise<unknown>): ClusterLink {
  AggregatorRegistry.setRegistries(registry);
  // Constructing one is what makes prom-client answer the primary's requests in a worker.
  new AggregatorRegistry();
  const pending = new Map<number, { resolve: (value: ToWorker) => void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    const received = message as ToWorker;
    if (received.type === 'mlops:action') {
      void run(received.action).then(
        (result) =>
          process.send?.({ type: 'mlops:action-done', id: received.id, result } satisfies ToPrimary),
        (err: unknown) =>
          process.send?.({
            type: 'mlops:action-done',
            id: received.id,
            result: { error: (err as Error).message },
          } satisfies ToPrimary),
      );
      return;
    }
    pending.get(received.id)?.resolve(received);
    pending.delete(received.id);
  });
  const ask = (message: ToPrimary): Promise<ToWorker> =>
    new Promise((resolve) => {
      pending.set(message.id, { resolve });
      process.send?.(message);
    });
  return {
    async metrics() {
      const answer = await ask({ type: 'mlops:metrics', id: ++nextId });
      if (answer.type !== 'mlops:metrics-result' || answer.text === undefined) {
        throw new Error(
          `cannot gather the workers' metrics: ${'error' in answer ? answer.error : 'no answer'}`,
        );
      }
      return answer.text;
    },
    async broadcast(action) {
      const answer = await ask({ type: 'mlops:broadcast', id: ++nextId, action });
      if (answer.type !== 'mlops:broadcast-result' || !answer.results) {
        throw new Error(
          `cannot reach every server process: ${'error' in answer ? answer.error : 'no answer'}`,
        );
      }
      return answer.results;
    },
  };
}

/** Where the primary logs. */
export interface PrimaryLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The primary: forks `processes` workers (each runs this same entry point), re-forks one that dies,
 * relays metrics and admin actions, and on SIGTERM/SIGINT lets every worker drain, then exits.
 */
export function runPrimary(processes: number, log: PrimaryLog): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let nextRelay = 0;
  const relays = new Map<
    number,
    { results: unknown[]; waiting: number; done: (results: unknown[]) => void }
  >();
  const fork = () => cluster.fork({ MLOPS_SERVING_WORKER: '1' });
  // Only processes that listen have joined (a newborn one could miss a relayed action).
  const listening = new Set<number>();
  cluster.on('listening', (worker) => listening.add(worker.id));

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (!isMessage(message)) return;
    const received = message as ToPrimary;
    const reply = (answer: ToWorker) => worker.send(answer);
    if (received.type === 'mlops:metrics') {
      aggregator.clusterMetrics().then(
        (text) => reply({ type: 'mlops:metrics-result', id: received.id, text }),
        (err: unknown) =>
          reply({ type: 'mlops:metrics-result', id: received.id, error: (err as Error).message }),
      );
    } else if (received.type === 'mlops:broadcast') {
      const workers = Object.values(cluster.workers ?? {}).filter(
        (each): each is Worker => each !== undefined && listening.has(each.id),
      );
      const relayId = ++nextRelay;
      const timer = setTimeout(() => {
        relays.delete(relayId);
        reply({
          type: 'mlops:broadcast-result',
          id: received.id,
          error: 'a server process did not answer in time',
        });
      }, RELAY_TIMEOUT_MS);
      relays.set(relayId, {
        results: [],
        waiting: workers.length,
        done: (results) => {
          clearTimeout(timer);
          reply({ type: 'mlops:broadcast-result', id: received.id, results });
        },
      });
      for (const each of workers)
        each.send({ type: 'mlops:action', id: relayId, action: received.action } satisfies ToWorker);
    } else if (received.type === 'mlops:action-done') {
      const relay = relays.get(received.id);
      if (!relay) return;
      relay.results.push(received.result);
      if (--relay.waiting === 0) {
        relays.delete(received.id);
        relay.done(relay.results);
      }
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'server process died; starting another');
    fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping every server process');
    const workers = Object.values(cluster.workers ?? {}).filter((each): each is Worker => each !== undefined);
    if (workers.length === 0) process.exit(0);
    let left = workers.length;
    for (const each of workers) {
      each.once('exit', () => {
        if (--left === 0) process.exit(0);
      });
      each.process.kill('SIGTERM');
    }
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for (let i = 0; i < processes; i++) fork();
  log.info({ processes }, 'prediction server: one process per core on one port');
}
