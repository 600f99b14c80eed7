/**
 * The image builder without a Docker engine (scripts/images, images/go/cmd/pm-image) and the local registry
 * (scripts/registry), against the real registry on 127.0.0.1 and a real containerd:
 * - layers are deterministic (one time, root-owned, sorted) and cached by content; the same inputs give the same
 *   digest from an empty cache; a warm build pushes nothing;
 * - every image runs as a numeric non-root user; a root user or a digest reference is refused;
 * - served.json lists what the registry really serves, under the names the stacks write;
 * - the pause image is one static binary that exits 0 on SIGTERM and survives SIGCHLD;
 * - containerd 1.6 pulls `registry.k8s.io/...` and `docker.io/...` names from the local registry through the
 *   hosts.toml files `scripts/registry mirrors` writes, and an image the registry lacks fails there (never
 *   upstream).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  extractFile,
  imageConfig,
  imageDigest,
  imageFiles,
  run,
  runOk,
  Served,
  tempDir,
  TestRegistry,
  toolsDir,
} from './support';

jest.setTimeout(300_000);

let tools = '';
let reg: TestRegistry;
let work = '';

beforeAll(async () => {
  tools = toolsDir();
  reg = await TestRegistry.start('images-builder');
  work = tempDir('images-work');
});

afterAll(() => {
  reg?.stop();
  if (work !== '') {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

interface SpecImage {
  name: string;
  refs: string[];
  layers: { comment: string; entries: Record<string, unknown>[] }[];
  config: Record<string, unknown>;
}

function writeSpec(file: string, cache: string, images: SpecImage[]): string {
  fs.writeFileSync(
    file,
    JSON.stringify({
      registry: reg.addr,
      cache,
      served: path.join(path.dirname(file), 'served.json'),
      images,
    }),
  );
  return file;
}

/** Whether an ELF64 executable names a program interpreter (PT_INTERP): false for a static binary. */
function elfInterpreter(file: string): boolean {
  const elf = fs.readFileSync(file);
  expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  expect(phnum).toBeGreaterThan(0);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) {
      return true;
    }
  }
  return false;
}

function pmImage(spec: string) {
  return run(path.join(tools, 'pm-image'), ['build', spec]);
}

/** A small tree on disk: a file, an executable, a symlink and a nested folder. */
function sampleTree(dir: string): string {
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(path.join(tree, 'app', 'lib'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'app', 'lib', 'data.txt'), 'paving\n');
  fs.writeFileSync(path.join(tree, 'app', 'run'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  fs.symlinkSync('lib/data.txt', path.join(tree, 'app', 'current'));
  return tree;
}

function sampleImage(tree: string, ref: string, user = '10001:10001'): SpecImage {
  return {
    name: 'sample',
    refs: [ref],
    layers: [
      {
        comment: 'base',
        entries: [
          { dst: '/etc/passwd', content: 'root:x:0:0::/root:/sbin/nologin\n' },
          { dst: '/tmp', dir: true, mode: '1777' },
        ],
      },
      { comment: 'app', entries: [{ src: tree, dst: '/opt' }] },
    ],
    config: { user, entrypoint: ['/opt/app/run'], env: ['A=1'], exposedPorts: ['8080/tcp'] },
  };
}

describe('pm-image', () => {
  it('builds deterministic, root-owned layers and the configuration it is given', () => {
    const dir = tempDir('images-det');
    try {
      const tree = sampleTree(dir);
      const ref = 'example/sample:1.0.0';
      const r = pmImage(
        writeSpec(path.join(dir, 'spec.json'), path.join(dir, 'cache'), [sampleImage(tree, ref)]),
      );
      expect(r.output).toContain('sample');
      expect(r.status).toBe(0);
      const local = `${reg.addr}/docker.io/example/sample:1.0.0`;
      const cfg = imageConfig(tools, local);
      expect(cfg.config.User).toBe('10001:10001');
      expect(cfg.config.Entrypoint).toEqual(['/opt/app/run']);
      expect(cfg.config.Env).toEqual(['A=1']);
      expect(Object.keys(cfg.config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
      expect(cfg.architecture).toBe('amd64');
      expect(cfg.os).toBe('linux');
      expect(cfg.created).toBe('1970-01-01T00:00:00Z');
      expect(cfg.rootfs.diff_ids).toHaveLength(2);

      const files = imageFiles(tools, local, dir);
      const byPath = new Map(files.map((f) => [f.path, f]));
      expect([...byPath.keys()].sort()).toEqual(
        [
          'etc',
          'etc/passwd',
          'opt',
          'opt/app',
          'opt/app/current',
          'opt/app/lib',
          'opt/app/lib/data.txt',
          'opt/app/run',
          'tmp',
        ].sort(),
      );
      for (const f of files) {
        expect([f.path, f.uid, f.gid, f.date]).toEqual([f.path, 0, 0, '1970-01-01 00:00:00']);
      }
      expect(byPath.get('tmp')?.mode).toBe('drwxrwxrwt');
      expect(byPath.get('opt/app/run')?.mode).toBe('-rwxr-xr-x');
      expect(byPath.get('opt/app/lib/data.txt')?.mode).toBe('-rw-r--r--');
      expect(byPath.get('opt/app/current')?.link).toBe('lib/data.txt');
      expect(byPath.get('etc/passwd')?.size).toBe('root:x:0:0::/root:/sbin/nologin\n'.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same digest from an empty cache, and a warm build reads nothing and pushes nothing', () => {
    const dir = tempDir('images-cache');
    try {
      const tree = sampleTree(dir);
      const ref = 'example/cached:1.0.0';
      const spec1 = writeSpec(path.join(dir, 'spec1.json'), path.join(dir, 'cache1'), [
        sampleImage(tree, ref),
      ]);
      const first = pmImage(spec1);
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/layers 2 built \/ 0 cached, pushed 1 tag/);
      const digest = imageDigest(tools, `${reg.addr}/docker.io/${ref}`);

      const warm = pmImage(spec1);
      expect(warm.status).toBe(0);
      expect(warm.stdout).toMatch(/layers 0 built \/ 2 cached, cached/);

      // A second, empty cache rebuilds every layer and must land on the same digest (reproducible builds).
      const cold = pmImage(
        writeSpec(path.join(dir, 'spec2.json'), path.join(dir, 'cache2'), [sampleImage(tree, ref)]),
      );
      expect(cold.status).toBe(0);
      expect(cold.stdout).toMatch(/layers 2 built \/ 0 cached, cached/);
      expect(cold.stdout).toContain(digest.slice(0, 19));

      // A changed file is a new layer and a new digest; the unchanged layer stays cached.
      fs.writeFileSync(path.join(tree, 'app', 'lib', 'data.txt'), 'asphalt\n');
      const changed = pmImage(spec1);
      expect(changed.stdout).toMatch(/layers 1 built \/ 1 cached, pushed 1 tag/);
      expect(imageDigest(tools, `${reg.addr}/docker.io/${ref}`)).not.toBe(digest);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a root or missing user and digest references, naming the image', () => {
    const dir = tempDir('images-bad');
    try {
      const tree = sampleTree(dir);
      for (const user of ['0', '0:0', 'root', '']) {
        const r = pmImage(
          writeSpec(path.join(dir, 'spec.json'), path.join(dir, 'cache'), [
            sampleImage(tree, 'example/root:1', user),
          ]),
        );
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(
          `sample: config.user "${user}": every image runs as a numeric non-root user`,
        );
      }
      const digestRef = `example/pinned:1@sha256:${'a'.repeat(64)}`;
      const r = pmImage(
        writeSpec(path.join(dir, 'spec.json'), path.join(dir, 'cache'), [sampleImage(tree, digestRef)]),
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the local registry serves tags, not digests');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes served.json from what the registry serves, under the names the stacks write', () => {
    const dir = tempDir('images-served');
    try {
      const tree = sampleTree(dir);
      const refs = [
        'busybox:1.0',
        'library/alpine:2.0',
        'registry.k8s.io/sig/thing:v3',
        'quay.io/org/tool:4',
      ];
      const spec = writeSpec(path.join(dir, 'spec.json'), path.join(dir, 'cache'), [
        { ...sampleImage(tree, refs[0]), refs },
      ]);
      expect(pmImage(spec).status).toBe(0);
      const served = JSON.parse(fs.readFileSync(path.join(dir, 'served.json'), 'utf8')) as Served;
      expect(served.registry).toBe(reg.addr);
      // Every tag, and every tag and repository pinned by the digest served (the form production writes).
      const expected = served.entries.flatMap((e) => [
        e.name,
        `${e.name}@${e.digest}`,
        `${e.name.replace(/:[^:]+$/, '')}@${e.digest}`,
      ]);
      expect(served.images).toEqual([...new Set(expected)].sort());
      expect(served.images).toContain(
        `quay.io/org/tool:4@${imageDigest(tools, `${reg.addr}/quay.io/org/tool:4`)}`,
      );
      const byName = new Map(served.entries.map((i) => [i.name, i]));
      expect(byName.get('busybox:1.0')?.normalized).toBe('docker.io/library/busybox:1.0');
      expect(byName.get('alpine:2.0')?.local).toBe(`${reg.addr}/docker.io/library/alpine:2.0`);
      expect(byName.get('registry.k8s.io/sig/thing:v3')?.local).toBe(
        `${reg.addr}/registry.k8s.io/sig/thing:v3`,
      );
      expect(byName.get('quay.io/org/tool:4')?.normalized).toBe('quay.io/org/tool:4');
      const digest = imageDigest(tools, `${reg.addr}/quay.io/org/tool:4`);
      expect(byName.get('quay.io/org/tool:4')?.digest).toBe(digest);
      // Images pushed by earlier tests are there too: the file is the registry's catalog, not the spec.
      expect(byName.has('example/sample:1.0.0')).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/images: pause and testbox', () => {
  let served: ReturnType<TestRegistry['served']>;

  beforeAll(() => {
    runOk('scripts/images', ['--only', 'pause,testbox'], { env: reg.env });
    served = reg.served();
  });

  it('pushes the pause image under the sandbox names and the test image, listed in served.json', () => {
    expect(served.images).toEqual(
      expect.arrayContaining([
        'registry.k8s.io/pause:3.10.2',
        'registry.k8s.io/pause:3.6',
        'pavemaster/testbox:1.0.0',
      ]),
    );
  });

  it('pause is one static binary, run as 65535, that exits 0 on SIGTERM and ignores SIGCHLD', async () => {
    const ref = `${reg.addr}/registry.k8s.io/pause:3.10.2`;
    const cfg = imageConfig(tools, ref);
    expect(cfg.config.User).toBe('65535:65535');
    expect(cfg.config.Entrypoint).toEqual(['/pause']);
    const files = imageFiles(tools, ref, work);
    expect(files.map((f) => f.path)).toEqual(['pause']);
    const bin = extractFile(tools, ref, '/pause', work);
    // Static: the ELF has no interpreter (no PT_INTERP program header), so it needs no libc in the image.
    expect(elfInterpreter(bin)).toBe(false);
    expect(elfInterpreter('/bin/ls')).toBe(true); // the check can fail: a dynamic binary has one

    const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGCHLD');
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('Shutting down, got signal: terminated');
  });

  it('testbox runs as 10001 with a world-writable /tmp only, and answers as a server and a client', async () => {
    const ref = `${reg.addr}/docker.io/pavemaster/testbox:1.0.0`;
    const cfg = imageConfig(tools, ref);
    expect(cfg.config.User).toBe('10001:10001');
    const files = imageFiles(tools, ref, work);
    for (const f of files) {
      expect([f.path, f.uid]).toEqual([f.path, 0]);
      const worldWritable = f.mode[8] === 'w' && !f.mode.startsWith('l');
      expect([f.path, worldWritable]).toEqual([f.path, f.path === 'tmp']);
    }
    expect(files.find((f) => f.path === 'etc/ssl/certs/ca-certificates.crt')?.size).toBeGreaterThan(100_000);

    const bin = extractFile(tools, ref, '/testbox', work);
    const port = 20000 + Math.floor(Math.random() * 10000);
    const server = spawn(bin, ['serve'], {
      env: { PORT: String(port), TESTBOX_MESSAGE: 'hi' },
      stdio: 'pipe',
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const ok = run(bin, ['get', `http://127.0.0.1:${port}/healthz`, '2']);
      expect(ok.stdout).toContain('-> 200');
      expect(ok.status).toBe(0);
      expect(run(bin, ['tcp', `127.0.0.1:${port}`, '2']).status).toBe(0);
      const closed = run(bin, ['tcp', `127.0.0.1:${port + 1}`, '1']);
      expect(closed.status).toBe(1);
    } finally {
      server.kill('SIGTERM');
    }
  });
});

describe('containerd pulls through scripts/registry mirrors', () => {
  it('maps registry.k8s.io and docker.io names onto the local registry, and a missing image fails locally', async () => {
    runOk('scripts/images', ['--only', 'pause,testbox'], { env: reg.env });
    const dir = tempDir('images-ctd');
    const hosts = path.join(dir, 'certs.d');
    runOk('scripts/registry', ['mirrors', hosts], { env: reg.env });
    const toml = fs.readFileSync(path.join(hosts, 'docker.io', 'hosts.toml'), 'utf8');
    expect(toml).toContain(`[host."http://${reg.addr}/v2/docker.io"]`);
    expect(toml).toContain('override_path = true');

    // A containerd of the test's own: its own root, state and socket, the CRI plugin off (no kubelet, no CNI).
    const sock = path.join(dir, 'containerd.sock');
    fs.writeFileSync(
      path.join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${sock}"`,
        '[ttrpc]',
        `  address = "${sock}.ttrpc"`,
      ].join('\n'),
    );
    const ctd = spawn('containerd', ['--config', path.join(dir, 'config.toml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    ctd.stdout.on('data', (d: Buffer) => (log += d.toString()));
    ctd.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const ctr = (...args: string[]) => run('ctr', ['--address', sock, ...args], { timeoutMs: 60_000 });
    try {
      for (let i = 0; i < 50 && ctr('version').status !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const servedDigest = (name: string) => reg.served().entries.find((i) => i.name === name)?.digest;
      for (const [image, name] of [
        ['registry.k8s.io/pause:3.10.2', 'registry.k8s.io/pause:3.10.2'],
        ['docker.io/pavemaster/testbox:1.0.0', 'pavemaster/testbox:1.0.0'],
      ]) {
        const pull = ctr('images', 'pull', '--hosts-dir', hosts, image);
        expect([image, pull.status, pull.output]).toEqual([image, 0, expect.stringContaining('done')]);
        const listed = ctr('images', 'ls').stdout;
        const line = listed.split('\n').find((l) => l.startsWith(`${image} `)) ?? '';
        expect(line).toContain(servedDigest(name) ?? 'missing from served.json');
      }
      const missing = ctr('images', 'pull', '--hosts-dir', hosts, 'registry.k8s.io/not-built:1');
      expect(missing.status).not.toBe(0);
      expect(missing.output).toContain('not found');
      // It asked the local registry, and no upstream host.
      expect(missing.output).toContain(`host="${reg.addr}"`);
      expect(missing.output).not.toMatch(/https:\/\/registry\.k8s\.io|lookup registry\.k8s\.io/);
    } finally {
      ctd.kill('SIGTERM');
      await new Promise((r) => ctd.on('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(log).not.toContain('level=fatal');
  });
});
