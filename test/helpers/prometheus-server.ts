/** A real Prometheus server for tests, scraping the given targets every second. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../../lib/temporal-server';

export interface PrometheusHandle {
  url: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where scripts/dev/install-prometheus.sh builds it; PROMETHEUS_PATH overrides. */
export function prometheusBinary(): string {
  return (
    process.env.PROMETHEUS_PATH ??
    path.resolve(__dirname, '..', '..', '.mlops', 'tools', 'prometheus', 'prometheus')
  );
}

export async function startPrometheus(targets: string[]): Promise<PrometheusHandle> {
  const binary = prometheusBinary();
  await fs.access(binary).catch(() => {
    throw new Error(
      `no Prometheus at ${binary}: run scripts/dev/install-prometheus.sh (or set PROMETHEUS_PATH)`,
    );
  });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    'scrape_configs:',
    '  - job_name: prediction-server',
    '    static_configs:',
    `      - targets: [${targets.map((target) => JSON.stringify(new URL(target).host)).join(', ')}]`,
  ].join('\n');
  await fs.writeFile(path.join(dir, 'prometheus.yml'), config);
  const port = await getFreePort();
  const child = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    child.kill('SIGTERM');
    await exited;
    await fs.rm(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (attempt > 100 || child.exitCode !== null) {
      await close();
      throw new Error(`Prometheus did not become ready at ${url}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, close, [Symbol.asyncDispose]: close };
}
