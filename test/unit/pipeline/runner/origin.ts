/**
 * A local bare repository standing in for the GitHub repository: `actions/checkout` clones it, a release job's
 * stack-file commit is pushed to it, and the tests read what arrived on each branch. Its first commit is a
 * snapshot of this working tree (tracked and untracked files, without the ignored ones), made through a
 * temporary index so the real index and HEAD are never touched: the tests run what is on disk, committed or not.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const IDENTITY = ['-c', 'user.name=PaveMaster tests', '-c', 'user.email=tests@pavemaster.invalid'];

function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('git', [...IDENTITY, ...args], { cwd, env, encoding: 'utf8' }).trim();
}

/** A commit of the working tree of `repo` (as `git add -A` would stage it), without touching its index. */
export function snapshotCommit(repo: string, message = 'snapshot of the working tree'): string {
  const index = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pavemaster-index-')), 'index');
  const env = { ...process.env, GIT_INDEX_FILE: index };
  try {
    git(repo, ['read-tree', 'HEAD'], env);
    git(repo, ['add', '-A'], env);
    const tree = git(repo, ['write-tree'], env);
    return git(repo, ['commit-tree', tree, '-p', 'HEAD', '-m', message], env);
  } finally {
    fs.rmSync(path.dirname(index), { recursive: true, force: true });
  }
}

/** The stand-in GitHub repository. */
export class Origin {
  private constructor(
    /** The bare repository (what `actions/checkout` clones). */
    readonly dir: string,
    private readonly scratch: string,
  ) {}

  /** A bare repository whose branches `branches` all point at a snapshot of `repo`'s working tree. */
  static create(repo: string, root: string, branches: string[] = ['main', 'develop']): Origin {
    const commit = snapshotCommit(repo);
    const dir = path.join(root, 'origin.git');
    git(root, ['init', '-q', '--bare', dir]);
    git(repo, ['push', '-q', dir, `${commit}:refs/heads/${branches[0]}`]);
    for (const b of branches.slice(1)) {
      git(dir, ['update-ref', `refs/heads/${b}`, commit]);
    }
    const scratch = path.join(root, 'origin-work');
    git(root, ['clone', '-q', dir, scratch]);
    return new Origin(dir, scratch);
  }

  /** The commit a branch points at. */
  head(branch: string): string {
    return git(this.dir, ['rev-parse', `refs/heads/${branch}`]);
  }

  /** A file as it is on a branch (undefined when absent). */
  show(branch: string, file: string): string | undefined {
    try {
      return execFileSync('git', ['show', `refs/heads/${branch}:${file}`], {
        cwd: this.dir,
        encoding: 'utf8',
      });
    } catch {
      return undefined;
    }
  }

  /** The subjects of the commits on `branch` after `since`, oldest first. */
  log(branch: string, since: string): string[] {
    const out = git(this.dir, ['log', '--reverse', '--format=%s', `${since}..refs/heads/${branch}`]);
    return out === '' ? [] : out.split('\n');
  }

  /** Commits `files` (path -> content; undefined deletes) on top of `branch` and pushes; returns the commit. */
  commit(branch: string, files: Record<string, string | undefined>, message: string): string {
    git(this.scratch, ['fetch', '-q', 'origin']);
    git(this.scratch, ['checkout', '-q', '-B', branch, `origin/${branch}`]);
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(this.scratch, file);
      if (content === undefined) {
        fs.rmSync(full, { force: true });
      } else {
        fs.mkdirSync(path.dirname(full), { recursive: true });
        fs.writeFileSync(full, content);
      }
    }
    git(this.scratch, ['add', '-A']);
    git(this.scratch, ['commit', '-q', '--allow-empty', '-m', message]);
    git(this.scratch, ['push', '-q', 'origin', `HEAD:refs/heads/${branch}`]);
    return git(this.scratch, ['rev-parse', 'HEAD']);
  }

  /**
   * A pull request from `head` into `base`, as GitHub prepares it: `refs/pull/N/head` and the test merge commit
   * `refs/pull/N/merge` that `actions/checkout` checks out for a pull_request event. Returns the merge commit.
   */
  pullRequest(number: number, head: string, base: string): string {
    git(this.scratch, ['fetch', '-q', 'origin']);
    git(this.scratch, ['checkout', '-q', '--detach', `origin/${base}`]);
    git(this.scratch, ['merge', '-q', '--no-ff', '-m', `Merge ${head} into ${base}`, `origin/${head}`]);
    const merge = git(this.scratch, ['rev-parse', 'HEAD']);
    // Forced, as GitHub moves both refs when the branch is pushed again (rewritten or not).
    git(this.scratch, [
      'push',
      '-q',
      '--force',
      'origin',
      `origin/${head}:refs/pull/${number}/head`,
      `HEAD:refs/pull/${number}/merge`,
    ]);
    return merge;
  }

  /** Merges `head` into `base` (a merged pull request) and returns the new head of `base`. */
  merge(head: string, base: string): string {
    git(this.scratch, ['fetch', '-q', 'origin']);
    git(this.scratch, ['checkout', '-q', '-B', base, `origin/${base}`]);
    git(this.scratch, ['merge', '-q', '--no-ff', '-m', `Merge ${head} into ${base}`, `origin/${head}`]);
    git(this.scratch, ['push', '-q', 'origin', `HEAD:refs/heads/${base}`]);
    return git(this.scratch, ['rev-parse', 'HEAD']);
  }
}
