// `npm test`: runs every test/**/*.test.ts, one file at a time (each integration test starts its
// own servers, and CI machines have two cores). Arguments starting with `-` go to `node --test`
// (use the `--flag=value` form); any other argument keeps only the files whose path contains it:
//   npm test -- temporal-server --test-name-pattern=search
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const flags = args.filter((arg) => arg.startsWith('-'));
const filters = args.filter((arg) => !arg.startsWith('-'));
const files = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .map((file) => `test/${file.replaceAll('\\', '/')}`)
  .filter((file) => file.endsWith('.test.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(', ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}

// --test-force-exit: a test that leaks a handle must fail its file, never hang CI for an hour.
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', ...flags, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
