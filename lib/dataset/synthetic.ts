/** Generates a synthetic ad-click dataset whose true click model is known, for tests, demos and benchmarks. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { computeAuc } from '../model/metrics';
import { createRandom } from './random';
import { AD_COLUMNS } from './schema';

/** Options of generateDataset; only outDir and rows are required. */
export interface GenerateOptions {
  /** Local folder; created if absent. Files this generator owns there are replaced. */
  outDir: string;
  rows: number;
  /** PRNG seed (its low 32 bits); defaults to DEFAULT_SEED. */
  seed?: number;
  /** Shift distributions (device mix, hours, CTA colours, a new advertiser) so drift detection has something to find. */
  drift?: boolean;
  /** Number of rows to make bad, each in one detectable way (see CORRUPTION_KINDS). */
  corrupt?: number;
  /** Side of the square PNGs in pixels. */
  imageSize?: number;
}

/** What was generated; `clickRate` and `trueAuc` cover the rows not corrupted (`trueAuc` is NaN if they hold one class only). */
export interface GenerateResult {
  outDir: string;
  csvPath: string;
  groundTruthPath: string;
  rows: number;
  corrupted: Array<{ adId: string; kind: CorruptionKind }>;
  clickRate: number;
  trueAuc: number;
}

/** The ways `corrupt` breaks a row, assigned in turn so that K ≥ 8 covers every kind. */
export const CORRUPTION_KINDS = [
  'hour_not_numeric',
  'hour_out_of_range',
  'clicked_unknown',
  'advertiser_empty',
  'too_few_fields',
  'image_missing',
  'image_truncated',
  'image_not_png',
] as const;
/** One of CORRUPTION_KINDS. */
export type CorruptionKind = (typeof CORRUPTION_KINDS)[number];

/** Seed used when none is given, so two plain runs agree. */
export const DEFAULT_SEED = 42;
/** Image side when none is given; models downscale it, and the CTA stays visible down to 16 px. */
export const DEFAULT_IMAGE_SIZE = 64;
const RENDER_CONCURRENCY = 8;

/** Additive logit effects of the true click model; weights of the sampling distributions. */
const ADVERTISERS: Record<string, number> = {
  acme: 0.3,
  brightlane: -0.3,
  cobalt: 0.5,
  dunmore: -0.5,
  evergreen: 0.1,
  foxglove: -0.1,
  granite: 0.2,
};
/** Appears only with drift, so a model trained before has never seen it. */
const DRIFT_ADVERTISER = 'helix';
const DRIFT_ADVERTISER_EFFECT = 0.6;
const CATEGORIES: Record<string, number> = { retail: 0.2, travel: 0.3, finance: -0.5, gaming: 0.1, food: 0 };
const PLACEMENTS: Record<string, number> = { feed: 0.4, search: 0.6, sidebar: -0.6, banner: -0.3 };
const DEVICES: Record<string, number> = { mobile: 0.2, desktop: 0, tablet: -0.3 };
const DEVICE_MIX = { mobile: 0.55, desktop: 0.35, tablet: 0.1 };
const DRIFT_DEVICE_MIX = { mobile: 0.35, desktop: 0.25, tablet: 0.4 };
const PLACEMENT_MIX = { feed: 0.4, search: 0.2, sidebar: 0.2, banner: 0.2 };
const BASE_LOGIT = -2.9;
/** Logit per unit of luma contrast between the CTA button and the background (contrast is 0..1). */
const CONTRAST_EFFECT = 5.5;

type Rgb = readonly [number, number, number];

interface AdSpec {
  adId: string;
  image: string;
  advertiser: string;
  category: string;
  placement: string;
  device: string;
  hour: number;
  headlineLength: number;
  background: Rgb;
  cta: Rgb;
  decoration: Rgb;
  barWidths: number[];
  probability: number;
  clicked: number;
}

function pickWeighted(random: () => number, weights: Record<string, number>): string {
  const entries = Object.entries(weights);
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let threshold = random() * total;
  for (const [key, weight] of entries) {
    threshold -= weight;
    if (threshold < 0) return key;
  }
  return entries[entries.length - 1]![0];
}

function pickUniform(random: () => number, keys: string[]): string {
  return keys[Math.floor(random() * keys.length)]!;
}

function between(random: () => number, low: number, high: number): number {
  return low + random() * (high - low);
}

/** Hour drawn from a daytime-heavy mix, or, with drift, one that moved toward late evening and night. */
function drawHour(random: () => number, drift: boolean): number {
  const centre = drift ? 22 : 13;
  const spread = drift ? 3 : 4;
  // Sum of uniforms ≈ normal; wrapping keeps the hour on the clock.
  const offset = (random() + random() + random() - 1.5) * spread * 2;
  return ((Math.round(centre + offset) % 24) + 24) % 24;
}

function hslToRgb(hue: number, saturation: number, lightness: number): Rgb {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const sector = hue / 60;
  const x = chroma * (1 - Math.abs((sector % 2) - 1));
  const table: Array<[number, number, number]> = [
    [chroma, x, 0],
    [x, chroma, 0],
    [0, chroma, x],
    [0, x, chroma],
    [x, 0, chroma],
    [chroma, 0, x],
  ];
  const [r, g, b] = table[Math.min(5, Math.floor(sector))]!;
  const m = lightness - chroma / 2;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** Rec. 601 luma of gamma-encoded RGB in 0..1: what a model sees in the pixels. */
function luma([r, g, b]: Rgb): number {
  return (0.299 * r + 0.587 * g + 0.114 * b) / 255;
}

/** Luma contrast between two colours, 0 (identical brightness) to 1 (black on white). */
function lumaContrast(a: Rgb, b: Rgb): number {
  return Math.abs(luma(a) - luma(b));
}

function hex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function trueLogit(spec: Omit<AdSpec, 'probability' | 'clicked'>): number {
  const hourCurve = 0.6 * Math.cos((2 * Math.PI * (spec.hour - 20)) / 24);
  // Short headlines read better; the effect is mild next to the image's.
  const headline = -0.02 * (spec.headlineLength - 45);
  return (
    BASE_LOGIT +
    (spec.advertiser === DRIFT_ADVERTISER ? DRIFT_ADVERTISER_EFFECT : (ADVERTISERS[spec.advertiser] ?? 0)) +
    (CATEGORIES[spec.category] ?? 0) +
    (PLACEMENTS[spec.placement] ?? 0) +
    (DEVICES[spec.device] ?? 0) +
    hourCurve +
    headline +
    CONTRAST_EFFECT * lumaContrast(spec.cta, spec.background)
  );
}

function drawSpec(random: () => number, index: number, idWidth: number, drift: boolean): AdSpec {
  const adId = `ad-${String(index + 1).padStart(idWidth, '0')}`;
  const advertiser =
    drift && random() < 0.2 ? DRIFT_ADVERTISER : pickUniform(random, Object.keys(ADVERTISERS));
  const category = pickUniform(random, Object.keys(CATEGORIES));
  const placement = pickWeighted(random, PLACEMENT_MIX);
  const device = pickWeighted(random, drift ? DRIFT_DEVICE_MIX : DEVICE_MIX);
  const hour = drawHour(random, drift);
  const headlineLength = 15 + Math.floor(random() * 76);
  const background = hslToRgb(between(random, 0, 360), between(random, 0.3, 0.9), between(random, 0.1, 0.9));
  // Drift moves CTA buttons to a narrow band of mid-light greens and blues.
  const cta = drift
    ? hslToRgb(between(random, 150, 260), between(random, 0.5, 0.9), between(random, 0.35, 0.6))
    : hslToRgb(between(random, 0, 360), between(random, 0.5, 1), between(random, 0.05, 0.95));
  const decoration = hslToRgb(between(random, 0, 360), between(random, 0.2, 0.8), between(random, 0.2, 0.8));
  const barWidths = Array.from({ length: 1 + Math.floor(headlineLength / 32) }, () =>
    Math.round(between(random, 14, 30)),
  );
  const image = `images/${adId}.png`;
  const partial = {
    adId,
    image,
    advertiser,
    category,
    placement,
    device,
    hour,
    headlineLength,
    background,
    cta,
    decoration,
    barWidths,
  };
  const probability = sigmoid(trueLogit(partial));
  return { ...partial, probability, clicked: random() < probability ? 1 : 0 };
}

/** An ad drawn in a 64×64 viewBox: headline bars, a decorative disc, and a CTA button a third of the height. */
function adSvg(spec: AdSpec, size: number): string {
  const text = luma(spec.background) > 0.5 ? '#202020' : '#f0f0f0';
  const bars = spec.barWidths
    .map((width, line) => `<rect x="6" y="${6 + line * 8}" width="${width}" height="5" fill="${text}"/>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 64 64">` +
    `<rect width="64" height="64" fill="${hex(spec.background)}"/>${bars}` +
    `<circle cx="50" cy="14" r="8" fill="${hex(spec.decoration)}"/>` +
    `<rect x="6" y="38" width="52" height="21" rx="3" fill="${hex(spec.cta)}"/></svg>`
  );
}

async function renderPng(spec: AdSpec, size: number): Promise<Buffer> {
  return sharp(Buffer.from(adSvg(spec, size)))
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Picks K distinct rows with their own random stream, so corrupting never changes the clean rows. */
function pickCorruptions(seed: number, rows: number, count: number): Map<number, CorruptionKind> {
  const random = createRandom(seed ^ 0x9e3779b9);
  const indices = Array.from({ length: rows }, (_, i) => i);
  const picked = new Map<number, CorruptionKind>();
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (rows - i));
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    picked.set(indices[i]!, CORRUPTION_KINDS[i % CORRUPTION_KINDS.length]!);
  }
  return picked;
}

function csvRecord(spec: AdSpec, kind: CorruptionKind | undefined): string[] {
  const record = [
    spec.adId,
    spec.image,
    kind === 'advertiser_empty' ? '' : spec.advertiser,
    spec.category,
    spec.placement,
    spec.device,
    kind === 'hour_not_numeric'
      ? 'noon'
      : kind === 'hour_out_of_range'
        ? String(24 + (spec.hour % 10))
        : String(spec.hour),
    String(spec.headlineLength),
    kind === 'clicked_unknown' ? 'yes' : String(spec.clicked),
  ];
  return kind === 'too_few_fields' ? record.slice(0, 6) : record;
}

/** Writes one image as the row's corruption kind dictates: whole, cut short, text, or not at all. */
async function writeImage(
  outDir: string,
  spec: AdSpec,
  size: number,
  kind: CorruptionKind | undefined,
): Promise<void> {
  const file = path.join(outDir, spec.image);
  if (kind === 'image_missing') return;
  if (kind === 'image_not_png') {
    await fs.writeFile(file, `not an image: ${spec.adId}\n`);
    return;
  }
  const png = await renderPng(spec, size);
  await fs.writeFile(file, kind === 'image_truncated' ? png.subarray(0, Math.floor(png.length / 2)) : png);
}

async function forEachBounded<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Removes images a previous run left, so a row meant to have no image really has none. */
async function clearOldImages(imagesDir: string): Promise<void> {
  const names = await fs.readdir(imagesDir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((name) => /^ad-\d+\.png$/.test(name)).map((name) => fs.rm(path.join(imagesDir, name))),
  );
}

function checkOptions(options: GenerateOptions): Required<GenerateOptions> {
  const resolved = {
    outDir: options.outDir,
    rows: options.rows,
    seed: options.seed ?? DEFAULT_SEED,
    drift: options.drift ?? false,
    corrupt: options.corrupt ?? 0,
    imageSize: options.imageSize ?? DEFAULT_IMAGE_SIZE,
  };
  if (!Number.isInteger(resolved.rows) || resolved.rows < 1) {
    throw new RangeError(`rows must be a positive integer, got ${resolved.rows}`);
  }
  if (!Number.isInteger(resolved.seed)) throw new RangeError(`seed must be an integer, got ${resolved.seed}`);
  if (!Number.isInteger(resolved.corrupt) || resolved.corrupt < 0 || resolved.corrupt > resolved.rows) {
    throw new RangeError(
      `corrupt must be an integer from 0 to rows (${resolved.rows}), got ${resolved.corrupt}`,
    );
  }
  if (!Number.isInteger(resolved.imageSize) || resolved.imageSize < 16 || resolved.imageSize > 1024) {
    throw new RangeError(`imageSize must be an integer from 16 to 1024, got ${resolved.imageSize}`);
  }
  return resolved;
}

/** Writes ads.csv, images/, and ground_truth.csv into outDir; same options and seed give byte-identical files. */
export async function generateDataset(options: GenerateOptions): Promise<GenerateResult> {
  const { outDir, rows, seed, drift, corrupt, imageSize } = checkOptions(options);
  const random = createRandom(seed);
  const idWidth = Math.max(6, String(rows).length);
  const specs = Array.from({ length: rows }, (_, index) => drawSpec(random, index, idWidth, drift));
  const corruptions = pickCorruptions(seed, rows, corrupt);

  const imagesDir = path.join(outDir, 'images');
  await fs.mkdir(imagesDir, { recursive: true });
  await clearOldImages(imagesDir);
  await forEachBounded(
    specs.map((spec, index) => ({ spec, kind: corruptions.get(index) })),
    RENDER_CONCURRENCY,
    ({ spec, kind }) => writeImage(outDir, spec, imageSize, kind),
  );

  const csvPath = path.join(outDir, 'ads.csv');
  const groundTruthPath = path.join(outDir, 'ground_truth.csv');
  const records = specs.map((spec, index) => csvRecord(spec, corruptions.get(index)));
  await fs.writeFile(csvPath, stringify([[...AD_COLUMNS], ...records]));
  const truth = specs.map((spec) => [spec.adId, spec.probability.toFixed(6)]);
  await fs.writeFile(groundTruthPath, stringify([['ad_id', 'click_probability'], ...truth]));

  const clean = specs.filter((_, index) => !corruptions.has(index));
  const labels = clean.map((spec) => spec.clicked);
  const positives = labels.reduce((sum, label) => sum + label, 0);
  return {
    outDir,
    csvPath,
    groundTruthPath,
    rows,
    corrupted: [...corruptions]
      .sort(([a], [b]) => a - b)
      .map(([index, kind]) => ({ adId: specs[index]!.adId, kind })),
    clickRate: positives / Math.max(1, labels.length),
    // AUC needs both classes; a handful of rows may well have only one.
    trueAuc:
      positives > 0 && positives < labels.length
        ? computeAuc(
            labels,
            clean.map((spec) => spec.probability),
          )
        : Number.NaN,
  };
}
