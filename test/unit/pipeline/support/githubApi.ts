/**
 * A stand-in for GitHub's REST API on 127.0.0.1, for the pull-request comment: it keeps the comments of pull
 * requests in memory, pages the listing (100 a page, `Link: rel="next"`, as GitHub does), refuses a body over
 * GitHub's 65,536-character limit with GitHub's status and message, checks the token, and records every request
 * exactly (method, path with query, headers that matter, JSON body) for the tests to assert.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface Comment {
  id: number;
  body: string;
  user: { login: string; type: 'Bot' | 'User' };
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  accept?: string;
  apiVersion?: string;
  body?: unknown;
}

export interface GitHubApi {
  url: string;
  requests: RecordedRequest[];
  comments: Map<number, Comment[]>;
  close(): Promise<void>;
}

export const BOT = { login: 'github-actions[bot]', type: 'Bot' as const };

export function startGitHubApi(opts: { repo: string; token: string; perPage?: number }): Promise<GitHubApi> {
  const comments = new Map<number, Comment[]>();
  const requests: RecordedRequest[] = [];
  let nextId = 1000;
  const perPage = opts.perPage ?? 100;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({
        method: req.method ?? '',
        path: `${url.pathname}${url.search}`,
        authorization: req.headers.authorization,
        accept: req.headers.accept,
        apiVersion: req.headers['x-github-api-version'] as string | undefined,
        body,
      });
      const send = (status: number, data?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(data === undefined ? '' : JSON.stringify(data));
      };
      if (req.headers.authorization !== `Bearer ${opts.token}`) {
        send(401, { message: 'Bad credentials' });
        return;
      }
      const base = `/repos/${opts.repo}`;
      const list = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(url.pathname);
      const one = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(url.pathname);
      const bodyText = (body as { body?: unknown } | undefined)?.body;
      if (
        (req.method === 'POST' || req.method === 'PATCH') &&
        typeof bodyText === 'string' &&
        bodyText.length > 65536
      ) {
        send(422, {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'IssueComment',
              code: 'custom',
              field: 'body',
              message: 'body is too long (maximum is 65536 characters)',
            },
          ],
        });
        return;
      }
      if (list && req.method === 'GET') {
        const all = comments.get(Number(list[1])) ?? [];
        const page = Number(url.searchParams.get('page') ?? '1');
        const size = Math.min(Number(url.searchParams.get('per_page') ?? '30'), perPage);
        const slice = all.slice((page - 1) * size, page * size);
        const headers: Record<string, string> = {};
        if (page * size < all.length) {
          headers.link = `<${serverUrl()}${url.pathname}?per_page=${size}&page=${page + 1}>; rel="next"`;
        }
        send(200, slice, headers);
      } else if (list && req.method === 'POST' && typeof bodyText === 'string') {
        const c: Comment = { id: nextId++, body: bodyText, user: BOT };
        comments.set(Number(list[1]), [...(comments.get(Number(list[1])) ?? []), c]);
        send(201, c);
      } else if (one && (req.method === 'PATCH' || req.method === 'DELETE')) {
        const id = Number(one[1]);
        for (const [pr, cs] of comments) {
          const found = cs.find((c) => c.id === id);
          if (found) {
            if (req.method === 'DELETE') {
              comments.set(
                pr,
                cs.filter((c) => c.id !== id),
              );
              send(204);
            } else if (typeof bodyText === 'string') {
              found.body = bodyText;
              send(200, found);
            }
            return;
          }
        }
        send(404, { message: 'Not Found' });
      } else {
        send(404, { message: 'Not Found' });
      }
    });
  });
  let address = '';
  const serverUrl = () => address;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        url: address,
        requests,
        comments,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
