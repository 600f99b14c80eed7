/**
 * The helper scripts of the workflows, run for real: the sticky pull-request comment (against a stand-in `gh` that
 * records its calls), the pick of staging's promoted image for production, and the private kubeconfig file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO, run, tempDir } from './tools';

// Real tools on a two-core machine that may be busy with other suites: generous bounds.
jest.setTimeout(60_000);

/** A stand-in GitHub CLI: answers the comment listing from $FAKE_COMMENTS and logs every call. */
function fakeGh(dir: string): void {
  const script = [
    '#!/usr/bin/env bash',
    'set -euo pipefail',
    'printf "%s\\n" "$*" >> "$FAKE_LOG"',
    'for a in "$@"; do case "$a" in body=@*) cp "${a#body=@}" "$FAKE_BODY" ;; esac; done',
    'if [ "$2" != "--method" ]; then',
    '  jq_filter=""',
    '  while [ "$#" -gt 0 ]; do if [ "$1" = "--jq" ]; then jq_filter=$2; fi; shift; done',
    '  jq -r "$jq_filter" "$FAKE_COMMENTS"',
    'fi',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'gh'), script, { mode: 0o755 });
}

describe('.github/scripts/pr-comment.sh', () => {
  async function post(
    comments: unknown[],
  ): Promise<{ code: number; calls: string[]; body: string; out: string }> {
    const tmp = tempDir('gh');
    try {
      fakeGh(tmp.dir);
      fs.writeFileSync(path.join(tmp.dir, 'comments.json'), JSON.stringify(comments));
      fs.writeFileSync(path.join(tmp.dir, 'report.md'), '| change | count |\n| --- | --- |\n');
      const env = {
        ...process.env,
        PATH: `${tmp.dir}:${process.env.PATH ?? ''}`,
        GITHUB_REPOSITORY: 'acme/pavemaster',
        FAKE_LOG: path.join(tmp.dir, 'log'),
        FAKE_BODY: path.join(tmp.dir, 'body'),
        FAKE_COMMENTS: path.join(tmp.dir, 'comments.json'),
      };
      const result = await run(
        '.github/scripts/pr-comment.sh',
        ['42', 'release-preview-staging', path.join(tmp.dir, 'report.md')],
        { env },
      );
      const read = (f: string) =>
        fs.existsSync(path.join(tmp.dir, f)) ? fs.readFileSync(path.join(tmp.dir, f), 'utf8') : '';
      return {
        code: result.code,
        calls: read('log').trim().split('\n'),
        body: read('body'),
        out: result.stdout + result.stderr,
      };
    } finally {
      tmp.remove();
    }
  }

  it('adds a marked comment when there is none', async () => {
    const r = await post([{ id: 7, body: 'someone else' }]);
    expect(r.code).toBe(0);
    expect(r.calls[1]).toMatch(/^api --method POST repos\/acme\/pavemaster\/issues\/42\/comments /);
    expect(r.body.startsWith('<!-- pavemaster:release-preview-staging -->\n| change | count |')).toBe(true);
  });

  it('edits the marked comment in place on a later push', async () => {
    const r = await post([
      { id: 7, body: '<!-- pavemaster:release-preview-production -->\nold' },
      { id: 9, body: '<!-- pavemaster:release-preview-staging -->\nold' },
    ]);
    expect(r.code).toBe(0);
    expect(r.calls[1]).toMatch(/^api --method PATCH repos\/acme\/pavemaster\/issues\/comments\/9 /);
    expect(r.out).toContain('updated comment 9 on #42');
  });

  it('refuses a bad pull-request number or marker before calling GitHub', async () => {
    const bad = await run('.github/scripts/pr-comment.sh', ['42; rm -rf /', 'x', 'README.md'], {
      env: { ...process.env, GITHUB_REPOSITORY: 'acme/pavemaster' },
    });
    expect(bad.code).toBe(64);
    const marker = await run('.github/scripts/pr-comment.sh', ['42', 'a b', 'README.md'], {
      env: { ...process.env, GITHUB_REPOSITORY: 'acme/pavemaster' },
    });
    expect(marker.code).toBe(64);
  });
});

describe('.github/scripts/promoted-image.js', () => {
  const digest = `sha256:${'c'.repeat(64)}`;
  async function pick(yaml: string) {
    const tmp = tempDir('promoted');
    try {
      const file = path.join(tmp.dir, 'Pulumi.staging.yaml');
      fs.writeFileSync(file, yaml);
      return await run('node', ['.github/scripts/promoted-image.js', file]);
    } finally {
      tmp.remove();
    }
  }

  it('prints the active slot’s digest-pinned image', async () => {
    const r = await pick(
      [
        'config:',
        '  pavemaster:activeSlot: green',
        '  pavemaster:blueImage: ghcr.io/acme/web:git-1@sha256:' + 'a'.repeat(64),
        `  pavemaster:greenImage: ghcr.io/acme/web:git-2@${digest}`,
        '',
      ].join('\n'),
    );
    expect(r.stdout.trim()).toBe(`ghcr.io/acme/web:git-2@${digest}`);
    expect(r.code).toBe(0);
  });

  it('refuses an image that is not pinned by digest (the committed staging stack today)', async () => {
    const r = await run('node', [
      '.github/scripts/promoted-image.js',
      path.join(REPO, 'Pulumi.staging.yaml'),
    ]);
    expect(r.stderr).toContain('not pinned by digest');
    expect(r.code).toBe(1);
  });
});

describe('.github/scripts/write-kubeconfig.sh', () => {
  it('writes the secret to a private file, exports its path and never prints it', async () => {
    const tmp = tempDir('kube');
    try {
      const secret = 'apiVersion: v1\nclusters: []\nusers: [{name: ci, user: {token: not-a-real-token}}]';
      const env = {
        ...process.env,
        KUBECONFIG_DATA: secret,
        RUNNER_TEMP: tmp.dir,
        GITHUB_ENV: path.join(tmp.dir, 'env'),
      };
      const r = await run('.github/scripts/write-kubeconfig.sh', [], { env });
      expect(r.code).toBe(0);
      const file = path.join(tmp.dir, 'kube', 'config');
      expect(fs.readFileSync(file, 'utf8')).toBe(`${secret}\n`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(tmp.dir, 'env'), 'utf8')).toBe(`KUBECONFIG=${file}\n`);
      expect(r.stdout + r.stderr).not.toContain('not-a-real-token');
    } finally {
      tmp.remove();
    }
  });

  it('fails when the secret is missing', async () => {
    const r = await run('.github/scripts/write-kubeconfig.sh', [], {
      env: { ...process.env, KUBECONFIG_DATA: '', RUNNER_TEMP: '/nonexistent', GITHUB_ENV: '/dev/null' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('empty or not set');
  });
});
