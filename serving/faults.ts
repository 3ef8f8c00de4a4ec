/** Fault injection per model version, so canary analysis and the demo can watch a bad version get rolled back. */
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError } from './errors';

/** A fault on one version: a share of its requests fail, and every request is delayed. */
export interface Fault {
  model: string;
  version: string;
  /** Probability in [0, 1] that a request routed to this version fails. */
  errorRate: number;
  extraLatencyMs: number;
}

/** Holds the faults currently injected; empty in normal operation. */
export class FaultInjector {
  private readonly faults = new Map<string, Fault>();

  constructor(private readonly random: () => number = Math.random) {}

  set(fault: Fault): void {
    this.faults.set(keyOf(fault.model, fault.version), { ...fault });
  }

  clear(): void {
    this.faults.clear();
  }

  list(): Fault[] {
    return [...this.faults.values()];
  }

  /** Delays and possibly fails a request routed to this version; a no-op when no fault is set. */
  async apply(model: string, version: string): Promise<void> {
    const fault = this.faults.get(keyOf(model, version));
    if (!fault) return;
    if (fault.extraLatencyMs > 0) await sleep(fault.extraLatencyMs);
    if (this.random() < fault.errorRate) {
      throw new HttpError(500, 'injected_fault', `fault injected for ${model} version ${version}`);
    }
  }
}

function keyOf(model: string, version: string): string {
  return `${model}\u0000${version}`;
}
