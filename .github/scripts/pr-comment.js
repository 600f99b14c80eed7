#!/usr/bin/env node
/*
 * Posts the pull request's release preview as ONE comment that later pushes edit in place. The comment starts
 * with a hidden marker; the bot's comment carrying it is edited (a duplicate left by a raced run is deleted),
 * else a new one is created. Its body stays under GitHub's limit of 65,536 characters: when the reports are
 * longer, their change tables are cut and the comment says where the whole report is (the run's summary).
 *
 *   node .github/scripts/pr-comment.js <pr number> <reports dir>
 *
 * <reports dir> holds what .github/scripts/preview.sh wrote per stack (<stack>.md, <stack>.json and, on a
 * policy failure, <stack>.violations.txt), directly or in one subfolder per stack (downloaded artifacts).
 * Environment: GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY (owner/name), GITHUB_API_URL (set by
 * the runner; default https://api.github.com), GITHUB_SERVER_URL and GITHUB_RUN_ID (the link to the run).
 */
'use strict';
const fs = require('fs');
const path = require('path');

const MARKER = '<!-- pavemaster:release-preview -->';
/** GitHub refuses a comment body longer than this many characters. */
const MAX_BODY = 65536;

/** Reads the per-stack reports under `dir` (any depth), staging first, then the others by name. */
function readReports(dir) {
  const found = [];
  const visit = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        visit(full);
      } else if (e.name.endsWith('.json')) {
        const meta = JSON.parse(fs.readFileSync(full, 'utf8'));
        const base = full.slice(0, -'.json'.length);
        const read = (suffix) => (fs.existsSync(base + suffix) ? fs.readFileSync(base + suffix, 'utf8') : '');
        found.push({ ...meta, markdown: read('.md'), violations: read('.violations.txt') });
      }
    }
  };
  visit(dir);
  const order = (s) => (s === 'staging' ? 0 : s === 'production' ? 1 : 2);
  return found.sort((a, b) => order(a.stack) - order(b.stack) || a.stack.localeCompare(b.stack));
}

/** The traffic line of one report: the release report's own line, or that traffic does not move. */
function trafficLine(markdown) {
  const m = /\*\*traffic: (\w+) -> (\w+)\*\*/.exec(markdown);
  return m ? `traffic moves: ${m[1]} -> ${m[2]}` : 'traffic does not move';
}

/** The comment body for the reports, cut to fit `limit` characters. */
function renderComment(reports, opts = {}) {
  const limit = opts.limit ?? MAX_BODY;
  const runUrl = opts.runUrl;
  const head = [MARKER, '## PaveMaster release preview', ''];
  head.push('| stack | policy pack | traffic |', '| --- | --- | --- |');
  for (const r of reports) {
    const policy = r.policy === 'passed' ? 'passed' : `**FAILED** (exit ${r.exitCode})`;
    head.push(`| \`${r.stack}\` | ${policy} | ${r.markdown ? trafficLine(r.markdown) : 'no report'} |`);
  }
  head.push('');
  const sections = reports.map((r) => {
    const parts = [];
    if (r.violations) {
      parts.push(`#### Policy violations (\`${r.stack}\`)`, '', '```', r.violations.trim(), '```', '');
    }
    parts.push(
      r.markdown ? r.markdown.trim() : `No release report for \`${r.stack}\` (exit ${r.reportExitCode}).`,
      '',
    );
    return parts.join('\n');
  });
  const foot = runUrl ? `\n_The whole preview of each stack is in the run: ${runUrl}_\n` : '';
  let body = `${head.join('\n')}\n${sections.join('\n')}${foot}`;
  if (body.length <= limit) {
    return body;
  }
  // Too long: give each stack an equal share for its section, cutting whole lines and saying how many.
  const fixed = `${head.join('\n')}\n`.length + foot.length;
  const share = Math.floor((limit - fixed) / Math.max(1, sections.length)) - 200;
  const cut = sections.map((s) => {
    if (s.length <= share) {
      return s;
    }
    const lines = s.split('\n');
    const kept = [];
    let size = 0;
    for (const line of lines) {
      if (size + line.length + 1 > share) {
        break;
      }
      kept.push(line);
      size += line.length + 1;
    }
    const dropped = lines.length - kept.length;
    return `${kept.join('\n')}\n\n_… ${dropped} more line(s) cut to fit GitHub's comment limit${runUrl ? `: the whole report is in the run's summary (${runUrl})` : ''}._\n`;
  });
  body = `${head.join('\n')}\n${cut.join('\n')}${foot}`;
  if (body.length > limit) {
    body = `${body.slice(0, limit - 40)}\n\n_… cut to fit._\n`;
  }
  return body;
}

/** One request to the GitHub REST API; throws on an answer other than 2xx. */
async function api(method, url, token, body) {
  const res = await fetch(url, {
    method,
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'x-github-api-version': '2022-11-28',
      'user-agent': 'pavemaster-pr-comment',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 300);
    try {
      message = JSON.parse(text).message ?? message;
    } catch {
      // not JSON
    }
    throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}: ${message}`);
  }
  return { data: text === '' ? undefined : JSON.parse(text), link: res.headers.get('link') ?? '' };
}

/** Creates the marked comment or edits it in place; deletes duplicates. Returns what it did. */
async function upsert({ apiUrl, repo, pr, token, body }) {
  const base = `${apiUrl.replace(/\/$/, '')}/repos/${repo}`;
  const marked = [];
  let url = `${base}/issues/${pr}/comments?per_page=100`;
  while (url) {
    const { data, link } = await api('GET', url, token);
    for (const c of data) {
      if (typeof c.body === 'string' && c.body.startsWith(MARKER) && c.user && c.user.type === 'Bot') {
        marked.push(c);
      }
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(link);
    url = next ? next[1] : undefined;
  }
  if (marked.length === 0) {
    const { data } = await api('POST', `${base}/issues/${pr}/comments`, token, { body });
    return { action: 'created', id: data.id };
  }
  const [keep, ...duplicates] = marked.sort((a, b) => b.id - a.id);
  for (const d of duplicates) {
    await api('DELETE', `${base}/issues/comments/${d.id}`, token);
  }
  if (keep.body === body) {
    return { action: 'unchanged', id: keep.id, deleted: duplicates.length };
  }
  await api('PATCH', `${base}/issues/comments/${keep.id}`, token, { body });
  return { action: 'updated', id: keep.id, deleted: duplicates.length };
}

async function main() {
  const [pr, dir, ...rest] = process.argv.slice(2);
  if (rest.length > 0 || !/^[1-9]\d*$/.test(pr ?? '') || !dir) {
    process.stderr.write('usage: pr-comment.js <pr number> <reports dir>\n');
    process.exit(64);
  }
  const env = process.env;
  for (const name of ['GITHUB_TOKEN', 'GITHUB_REPOSITORY']) {
    if (!env[name]) {
      throw new Error(`${name} is not set`);
    }
  }
  if (!fs.existsSync(dir)) {
    throw new Error(`no reports: ${dir} does not exist (did the preview jobs run?)`);
  }
  const reports = readReports(dir);
  if (reports.length === 0) {
    throw new Error(`no reports under ${dir}`);
  }
  const runUrl = env.GITHUB_RUN_ID
    ? `${env.GITHUB_SERVER_URL || 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`
    : undefined;
  const body = renderComment(reports, { runUrl });
  const result = await upsert({
    apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
    repo: env.GITHUB_REPOSITORY,
    pr: Number(pr),
    token: env.GITHUB_TOKEN,
    body,
  });
  process.stdout.write(
    `pr-comment: ${result.action} comment ${result.id} on #${pr} (${body.length} characters, ${reports.map((r) => r.stack).join(', ')})\n`,
  );
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`pr-comment: ${e.message}\n`);
    process.exit(1);
  });
}

module.exports = { MARKER, MAX_BODY, readReports, renderComment, trafficLine, upsert };
