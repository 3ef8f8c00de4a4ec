/**
 * Admin actions (reload, faults) as one process runs them, and as the server runs them: on every
 * process of its port when it has several (cluster.ts), else on this one.
 */
import type { AdminAction } from './cluster';
import type { ServingContext } from './context';
import type { Fault } from './faults';

export async function runLocally(context: ServingContext, action: AdminAction): Promise<unknown> {
  switch (action.kind) {
    case 'reload':
      return context.watcher.refresh();
    case 'set-fault':
      context.faults?.set(action.fault as Fault);
      return context.faults?.list() ?? [];
    case 'clear-faults':
      context.faults?.clear();
      return [];
  }
}

/** Each process's result of `action`, this one's first when it is alone. */
export async function runEverywhere(context: ServingContext, action: AdminAction): Promise<unknown[]> {
  return context.cluster ? context.cluster.broadcast(action) : [await runLocally(context, action)];
}
