/**
 * What one CSV column's cells look like, gathered in one streamed pass with bounded memory: blanks,
 * padding, whether every value is a number (an integer, how many digits), distinct values (exact up
 * to a bound, then a lower bound), words per value and image-like references. The feature-spec
 * inference decides a column's kind from this.
 */
import { looksNumeric } from './csv-dialect';
import { byFrequency } from './feature-accumulator';
import { hash32 } from './hash';

/** Distinct values tracked per column; past it the count is a lower bound. */
export const MAX_TRACKED_DISTINCT = 10_000;
/** Example values kept per column, for the table a person reads. */
const EXAMPLES = 3;
/** Hashes kept by the distinct-count sketch: its estimate is within about 1/√K (3%) of the truth. */
const SKETCH_SIZE = 1024;
const IMAGE_REFERENCE = /\.(png|jpe?g|webp)$/i;
const INTEGER = /^[+-]?\d+$/;

/**
 * Counts distinct values past what can be held, as a K-minimum-values sketch: the K smallest value
 * hashes seen; if the K-th smallest is h (of 2^32), about (K − 1) · 2^32 / h values were distinct.
 */
class DistinctSketch {
  private readonly smallest: number[] = [];

  add(value: string): void {
    const hash = hash32(value);
    const kept = this.smallest;
    if (kept.length === SKETCH_SIZE && hash >= kept[kept.length - 1]!) return;
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (kept[middle]! < hash) low = middle + 1;
      else high = middle;
    }
    if (kept[low] === hash) return;
    kept.splice(low, 0, hash);
    if (kept.length > SKETCH_SIZE) kept.pop();
  }

  get estimate(): number {
    const kept = this.smallest;
    if (kept.length < SKETCH_SIZE) return kept.length;
    return Math.round(((SKETCH_SIZE - 1) * 2 ** 32) / (kept[kept.length - 1]! + 1));
  }
}

export class ColumnProfile {
  /** Rows that had this column (a short row lacks the last ones). */
  rows = 0;
  missing = 0;
  /** Cells with leading or trailing spaces. */
  padded = 0;
  /** Present values that are not numbers. */
  nonNumeric = 0;
  /** Present numeric values that are not integers. */
  fractional = 0;
  maxDigits = 0;
  min = Infinity;
  max = -Infinity;
  imageLike = 0;
  multiWord = 0;
  words = 0;
  maxLength = 0;
  readonly missingTokens = new Map<string, number>();
  readonly counts = new Map<string, number>();
  distinctOverflow = false;
  /** A tracked value came back: the column repeats itself. */
  private repeated = false;
  private readonly sketch = new DistinctSketch();
  readonly examples: string[] = [];

  constructor(
    readonly name: string,
    private readonly missingValues: ReadonlySet<string>,
  ) {}

  add(raw: string): void {
    this.rows++;
    const value = raw.trim();
    if (value !== raw) this.padded++;
    if (this.missingValues.has(value)) {
      this.missing++;
      this.missingTokens.set(value, (this.missingTokens.get(value) ?? 0) + 1);
      return;
    }
    this.sketch.add(value);
    const seen = this.counts.get(value);
    if (seen !== undefined) {
      this.counts.set(value, seen + 1);
      this.repeated = true;
    } else if (this.counts.size < MAX_TRACKED_DISTINCT) {
      this.counts.set(value, 1);
      if (this.examples.length < EXAMPLES) this.examples.push(value);
    } else this.distinctOverflow = true;
    this.maxLength = Math.max(this.maxLength, value.length);
    const wordCount = value.split(/\s+/).length;
    this.words += wordCount;
    if (wordCount >= 3) this.multiWord++;
    if (IMAGE_REFERENCE.test(value)) this.imageLike++;
    if (!looksNumeric(value)) {
      this.nonNumeric++;
      return;
    }
    if (!INTEGER.test(value)) this.fractional++;
    this.maxDigits = Math.max(this.maxDigits, value.replace(/^[+-]/, '').replace(/\..*$/, '').length);
    const number = Number(value);
    this.min = Math.min(this.min, number);
    this.max = Math.max(this.max, number);
  }

  /** Values present. */
  get present(): number {
    return this.rows - this.missing;
  }

  /** Distinct values: exact while tracked, else the sketch's estimate (never below what was tracked). */
  get distinct(): number {
    return this.distinctOverflow ? Math.max(this.counts.size, this.sketch.estimate) : this.counts.size;
  }

  get allNumeric(): boolean {
    return this.present > 0 && this.nonNumeric === 0;
  }

  get allIntegers(): boolean {
    return this.allNumeric && this.fractional === 0;
  }

  /**
   * Every value once, none missing: an identifier, or a measurement too fine to repeat. Past the
   * tracked values it is judged from the sketch (within its error) and the tracked values' repeats.
   */
  get unique(): boolean {
    if (this.missing > 0 || this.rows < 2) return false;
    if (!this.distinctOverflow) return this.counts.size === this.rows;
    return !this.repeated && this.sketch.estimate >= 0.9 * this.rows;
  }

  get meanWords(): number {
    return this.present ? this.words / this.present : 0;
  }

  /** Present values, most frequent first (ties by value). */
  topValues(limit: number): Array<[string, number]> {
    return [...this.counts].sort(byFrequency).slice(0, limit);
  }
}
