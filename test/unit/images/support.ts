/**
 * Helpers for the image builder's tests: run the project's scripts and the builder's own tools (pm-image, crane,
 * the registry), start a throwaway local registry of the test's own (own state folder, own port), and read images
 * back from it. Nothing here is a stand-in: every image is built by the real builder and served by the real
 * registry on 127.0.0.1.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
}

/** Runs a command to its end (no shell) and returns its status and output. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string | Buffer } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 600_000,
    input: opts.input,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error !== undefined) {
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: `${r.stdout}${r.stderr}` };
}

/** Runs a command and fails the test with its output when it exits non-zero. */
export function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status)}:\n${r.output}`);
  }
  return r;
}

/** The folder of the builder's tools (pm-image, registry, crane, pause, testbox), built or reused. */
export function toolsDir(): string {
  const r = runOk('scripts/images', ['tools']);
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (!fs.existsSync(path.join(dir, 'pm-image'))) {
    throw new Error(`scripts/images tools printed no tools folder:\n${r.output}`);
  }
  return dir;
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pavemaster-${prefix}-`));
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A local registry of the test's own: scripts/registry with its own state folder and port. */
export class TestRegistry {
  readonly env: NodeJS.ProcessEnv;
  addr = '';

  constructor(
    readonly dir: string,
    port: number,
  ) {
    this.env = {
      PAVEMASTER_REGISTRY_DIR: path.join(dir, 'registry'),
      PAVEMASTER_REGISTRY_PORT: String(port),
      PAVEMASTER_IMAGES_OUT: path.join(dir, 'images'),
    };
  }

  static async start(prefix: string): Promise<TestRegistry> {
    const reg = new TestRegistry(tempDir(prefix), await freePort());
    reg.addr = runOk('scripts/registry', ['start'], { env: reg.env }).stdout.trim().split('\n').pop() ?? '';
    return reg;
  }

  stop(): void {
    run('scripts/registry', ['stop'], { env: this.env });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** served.json as scripts/images wrote it for this registry. */
  served(): Served {
    return JSON.parse(fs.readFileSync(path.join(this.dir, 'images', 'served.json'), 'utf8')) as Served;
  }
}

export interface Served {
  registry: string;
  /** The references as the stacks write them. */
  images: string[];
  entries: { name: string; normalized: string; local: string; digest: string }[];
}

/** The OCI image config of a reference, read from the registry with crane. */
export interface ImageConfig {
  architecture: string;
  os: string;
  created: string;
  config: {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
  rootfs: { diff_ids: string[] };
}

export function imageConfig(tools: string, ref: string): ImageConfig {
  return JSON.parse(runOk(path.join(tools, 'crane'), ['config', '--insecure', ref]).stdout) as ImageConfig;
}

export function imageDigest(tools: string, ref: string): string {
  return runOk(path.join(tools, 'crane'), ['digest', '--insecure', ref]).stdout.trim();
}

/** One entry of an image's flattened file system, as `tar -tv --numeric-owner` lists it. */
export interface FileEntry {
  mode: string;
  uid: number;
  gid: number;
  size: number;
  date: string;
  path: string;
  link?: string;
}

/** Every file of an image (its layers flattened by `crane export`), listed by the real tar. */
export function imageFiles(tools: string, ref: string, dir: string): FileEntry[] {
  const tarFile = path.join(dir, `${ref.replace(/[^a-zA-Z0-9.-]+/g, '_')}.tar`);
  runOk(path.join(tools, 'crane'), ['export', '--insecure', ref, tarFile]);
  const listing = runOk('tar', ['-tv', '--numeric-owner', '--full-time', '-f', tarFile]).stdout;
  return listing
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      // drwxr-xr-x 0/0               0 1970-01-01 00:00:00 etc/
      const m = /^(\S+)\s+(\d+)\/(\d+)\s+(\d+)\s+(\S+ \S+)\s+(.*?)(?: -> (.*))?$/.exec(line);
      if (m === null) {
        throw new Error(`unexpected tar listing line: ${line}`);
      }
      return {
        mode: m[1],
        uid: Number(m[2]),
        gid: Number(m[3]),
        size: Number(m[4]),
        date: m[5],
        path: m[6].replace(/\/$/, ''),
        ...(m[7] !== undefined ? { link: m[7] } : {}),
      };
    });
}

/** Extracts one file of an image (flattened) into dir and returns its path. */
export function extractFile(tools: string, ref: string, file: string, dir: string): string {
  const tarFile = path.join(dir, 'extract.tar');
  runOk(path.join(tools, 'crane'), ['export', '--insecure', ref, tarFile]);
  runOk('tar', ['-xf', tarFile, '-C', dir, file.replace(/^\//, '')]);
  fs.rmSync(tarFile);
  return path.join(dir, file);
}
