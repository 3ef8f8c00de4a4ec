/** Pure traffic routing between a stable and a canary version: random by weight, or sticky by routing key. */
import { createHash } from 'node:crypto';

/**
 * Which side of a rollout served a request, a metric label: `pinned` for a request that named its
 * version (or label), outside the split that canary analysis compares.
 */
export type Role = 'stable' | 'canary' | 'pinned';

/** The versions a model can route to: the canary takes `weight` percent of traffic. */
export interface RoutingTable {
  stable?: { version: string };
  canary?: { version: string; weight: number };
  /** A candidate that serves no one; `percent` of stable's requests are mirrored to it. */
  shadow?: { version: string; percent: number };
}

/** The version chosen for one request. */
export interface RouteChoice {
  version: string;
  role: Role;
}

/** Maps a routing key to a point in [0, 100), the same for every replica and every process. */
export function routingPoint(key: string): number {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  return (digest.readUInt32BE(0) / 0x1_0000_0000) * 100;
}

/**
 * Chooses stable or canary. A key sends a user to the canary when its point falls below the weight,
 * so raising the weight only ever moves users from stable to canary, never back and forth.
 */
export function chooseRoute(
  table: RoutingTable,
  routingKey?: string,
  random: () => number = Math.random,
): RouteChoice | undefined {
  const { stable, canary } = table;
  if (!canary || canary.weight <= 0) return stable ? { version: stable.version, role: 'stable' } : undefined;
  if (!stable || canary.weight >= 100) return { version: canary.version, role: 'canary' };
  const point = routingKey === undefined ? random() * 100 : routingPoint(routingKey);
  return point < canary.weight
    ? { version: canary.version, role: 'canary' }
    : { version: stable.version, role: 'stable' };
}
