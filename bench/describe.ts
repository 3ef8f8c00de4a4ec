/**
 * bench/describe: `mlops data describe` (describeDataset) on CSVs of about 100 MB and 1 GB, each in
 * its own process so its peak RSS is its own, against a bare csv-parse pass over the same file in
 * the same run. Memory must stay bounded (the 1 GB file's peak RSS close to the 100 MB file's),
 * and the ratio says what the profiling costs beyond parsing.
 *
 * Run: npx tsx bench/describe.ts [gigabytes]   (default 1; about three minutes on 2 CPUs at 1 GB)
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse';
import { describeDataset } from '../lib/dataset/spec-inference';
import { createRandom } from '../lib/dataset/random';

const GIGABYTES = Number(process.argv[2] ?? 1);

/** Writes avazu-like rows (a 20-digit id, a 0/1 label, 10 categoricals, 5 numerics with blanks, a short text) until `bytes`. */
async function writeCsv(file: string, bytes: number): Promise<number> {
  const random = createRandom(23);
  const out = createWriteStream(file);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve()));
  const header = ['id', 'click', ...Array.from({ length: 10 }, (_, i) => `C${i + 1}`)];
  await write(`${[...header, 'N1', 'N2', 'N3', 'N4', 'N5', 'note'].join(',')}\n`);
  let written = 0;
  let rows = 0;
  const words = ['fast', 'slow', 'great', 'bad', 'new', 'old', 'red', 'blue'];
  while (written < bytes) {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++, rows++) {
      const id = `${10_000_000_000 + rows}${String(Math.floor(random() * 1e9)).padStart(10, '0')}`;
      const cats = Array.from({ length: 10 }, (_, c) => `v${Math.floor(random() * 3 * 10 ** (c % 4))}`);
      const nums = Array.from({ length: 5 }, () => (random() < 0.05 ? '' : (random() * 1000).toFixed(2)));
      const note = Array.from({ length: 3 }, () => words[Math.floor(random() * words.length)]).join(' ');
      lines.push([id, random() < 0.17 ? '1' : '0', ...cats, ...nums, note].join(','));
    }
    const chunk = `${lines.join('\n')}\n`;
    written += Buffer.byteLength(chunk);
    await write(chunk);
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return rows;
}

/** One measurement in a fresh process: seconds and peak RSS. */
interface Run {
  seconds: number;
  peakRssMb: number;
  rows: number;
}

async function measureInChild(mode: 'describe' | 'parse', file: string): Promise<Run> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, __filename, '--child', mode, file],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Run;
}

async function child(mode: string, file: string): Promise<void> {
  const started = performance.now();
  let rows = 0;
  if (mode === 'describe') {
    rows = (await describeDataset(file)).rows;
  } else {
    for await (const _record of createReadStream(file).pipe(parse({ bom: true }))) rows++;
    rows -= 1;
  }
  const seconds = (performance.now() - started) / 1000;
  // maxRSS is in kilobytes.
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ seconds, peakRssMb, rows }));
}

async function main(): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-bench-describe-'));
  try {
    console.log(
      'size | rows | describe MB/s | bare csv-parse MB/s | ratio | describe peak RSS | csv-parse peak RSS',
    );
    for (const gigabytes of [GIGABYTES / 10, GIGABYTES]) {
      const file = path.join(work, `data-${gigabytes}.csv`);
      await writeCsv(file, gigabytes * 1e9);
      const megabytes = (await fs.stat(file)).size / 1e6;
      const described = await measureInChild('describe', file);
      const parsed = await measureInChild('parse', file);
      if (described.rows !== parsed.rows) {
        throw new Error(`describe read ${described.rows} rows, csv-parse ${parsed.rows}`);
      }
      const rate = (run: Run) => megabytes / run.seconds;
      console.log(
        `${megabytes.toFixed(0)} MB | ${described.rows} | ${rate(described).toFixed(1)} | ${rate(parsed).toFixed(1)} | ` +
          `${(rate(described) / rate(parsed)).toFixed(2)} | ${described.peakRssMb.toFixed(0)} MB | ${parsed.peakRssMb.toFixed(0)} MB`,
      );
      await fs.rm(file);
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
(childAt >= 0 ? child(process.argv[childAt + 1]!, process.argv[childAt + 2]!) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
