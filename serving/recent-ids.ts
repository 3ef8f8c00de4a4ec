/** A bounded set of recently seen ids, so a replica counts each prediction's feedback once. */

/** Remembers the last `capacity` ids; the oldest are forgotten first, which bounds memory under any load. */
export class RecentIds {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /** Adds `id`; false when it was already among the remembered ones. */
  add(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    // A Set iterates in insertion order, so its first element is the oldest.
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
