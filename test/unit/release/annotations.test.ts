/**
 * Release annotations: what a promote, flip-back or rollback posts to Grafana's annotations API and to a Slack
 * webhook, where it goes (the stack's own Grafana through a port-forward, another with its token), and that a
 * failed post is an outcome, never an exception. The posts go to a server on 127.0.0.1 that records requests.
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import {
  AnnotationOutcome,
  AnnotationPlan,
  annotateRelease,
  eventTags,
  eventText,
  planAnnotations,
  postAnnotations,
  ReleaseEvent,
} from '../../../release/annotations';
import { promoteJson } from '../../../release/commands';
import { document } from '../../../release/output';
import type { Session } from '../../../release/session';
import { REPO } from '../../../release/testing/sandbox';
import { Recorder, startRecorder } from '../../../release/testing/recorder';
import { allDashboards } from '../../../components/monitoring/dashboards';
import { Problems } from '../../../stacks/problems';
import { AnnotationSettings, SecretText } from '../../../stacks/release';
import { parseReleaseFor } from './support';

const fake = (n: number) => ['test', 'grafana', String(Date.now()), String(n)].join('-');

function annotationSettings(config: Record<string, unknown>): { a: AnnotationSettings; problems: Problems } {
  const { problems, ...r } = parseReleaseFor(config, { redactSecrets: true });
  return { a: r.annotations, problems };
}

const event: ReleaseEvent = {
  kind: 'promote',
  stack: 'staging',
  namespace: 'pavemaster-staging',
  app: 'pavemaster',
  from: 'blue',
  to: 'green',
  version: '2.0.0',
  image: 'pavemaster/web:2.0.0',
  releaseId: 'r20261202-133000',
  who: 'alice@ci-7 (pid 42)',
  time: 1764682200000,
};

describe('release annotations: settings', () => {
  it('defaults to Grafana and Slack on, 10 s per post, no extra tags', () => {
    const { a, problems } = annotationSettings({});
    expect(problems.list).toEqual([]);
    expect(a).toEqual({
      grafana: true,
      grafanaUrl: undefined,
      grafanaToken: undefined,
      tags: [],
      slack: true,
      slackWebhookUrl: undefined,
      timeoutSeconds: 10,
    });
  });

  it("posts to the release webhook only, never the alerts' one; lists bad values at once, secrets redacted", () => {
    const own = `https://hooks.slack.com/services/${fake(1)}`;
    const alerts = `https://hooks.slack.com/services/${fake(2)}`;
    // The delivery workflows post each release to the alerts' channel themselves.
    expect(annotationSettings({ slackWebhookUrl: alerts }).a.slackWebhookUrl).toBeUndefined();
    expect(
      annotationSettings({
        slackWebhookUrl: alerts,
        releaseSlackWebhookUrl: own,
      }).a.slackWebhookUrl?.reveal(),
    ).toBe(own);
    const token = fake(3);
    const bad = `http://hooks.example.com/${fake(4)}`;
    const { problems } = annotationSettings({
      release: {
        annotations: { grafanaUrl: 'http://grafana.example.com', tags: ['ok', 'not ok'], slack: 'yes' },
      },
      releaseSlackWebhookUrl: bad,
      grafanaToken: token,
    });
    expect(problems.list.map((p) => [p.key, p.value])).toEqual([
      ['pavemaster:release.annotations.tags[1]', 'not ok'],
      ['pavemaster:release.annotations.slack', 'yes'],
      ['pavemaster:releaseSlackWebhookUrl', '[secret]'],
      ['pavemaster:release.annotations.grafanaUrl', 'http://grafana.example.com'],
    ]);
    expect(problems.list[3].allowed).toContain('since pavemaster:grafanaToken is sent to it');
    expect(JSON.stringify(problems.list)).not.toContain(token);
  });
});

describe('release annotations: where they go', () => {
  const own = {
    grafanaUrl: 'http://grafana.pavemaster-staging-monitoring.svc:3000',
    grafanaAdminPassword: fake(5),
  };

  it("annotates the stack's own Grafana through a port-forward, with its generated admin password", () => {
    const plan = planAnnotations(annotationSettings({}).a, own);
    expect(plan.grafana).toMatchObject({
      kind: 'port-forward',
      service: {
        namespace: 'pavemaster-staging-monitoring',
        service: 'grafana',
        port: '3000',
        scheme: 'http',
      },
    });
    expect(plan.grafana?.authorization.reveal()).toBe(
      `Basic ${Buffer.from(`admin:${own.grafanaAdminPassword}`).toString('base64')}`,
    );
    expect(plan.grafana?.source).toBe(
      "the stack's own Grafana (http://grafana.pavemaster-staging-monitoring.svc:3000, through a port-forward)",
    );
    expect(plan.skipped).toEqual([
      {
        target: 'slack',
        outcome: 'skipped',
        detail: 'Slack: no webhook (pavemaster:releaseSlackWebhookUrl)',
      },
    ]);
  });

  it('sends another Grafana only its token; says how to set one, or that there is no Grafana', () => {
    const elsewhere = annotationSettings({
      release: { annotations: { grafanaUrl: 'https://grafana.example.com' } },
    }).a;
    expect(planAnnotations(elsewhere, own).grafana).toBeUndefined();
    expect(planAnnotations(elsewhere, own).skipped[0].detail).toContain(
      '`pulumi config set --secret pavemaster:grafanaToken <token>`',
    );
    const token = fake(6);
    const withToken = annotationSettings({
      release: { annotations: { grafanaUrl: 'https://grafana.example.com' } },
      grafanaToken: token,
    }).a;
    expect(planAnnotations(withToken, own).grafana).toMatchObject({ kind: 'direct' });
    expect(planAnnotations(withToken, own).grafana?.authorization.reveal()).toBe(`Bearer ${token}`);
    expect(planAnnotations(annotationSettings({}).a, undefined).skipped[0].detail).toBe(
      "Grafana: no annotation written: the stack's outputs name no Grafana of its own (not deployed with it yet: " +
        'run `pulumi up`) and no external Grafana is configured (pavemaster:release.annotations.grafanaUrl, with ' +
        'the secret pavemaster:grafanaToken)',
    );
    const off = annotationSettings({ release: { annotations: { grafana: false, slack: false } } }).a;
    expect(planAnnotations(off, own)).toEqual({
      grafana: undefined,
      slack: undefined,
      skipped: [
        {
          target: 'grafana',
          outcome: 'skipped',
          detail: 'Grafana: pavemaster:release.annotations.grafana is false',
        },
        {
          target: 'slack',
          outcome: 'skipped',
          detail: 'Slack: pavemaster:release.annotations.slack is false',
        },
      ],
    });
  });

  it('every provisioned dashboard shows the annotations a release of its app posts (tags match)', () => {
    const dashboards = Object.values(allDashboards({ appNamespace: event.namespace, appName: event.app }));
    expect(dashboards).toHaveLength(4);
    for (const d of dashboards) {
      const releases = d.annotations.list.find((q) => q.name === 'Releases');
      expect(releases?.target.type).toBe('tags');
      expect(releases?.target.matchAny).toBe(false);
      // Grafana shows a tag query's annotations when they carry every tag of the query.
      const tags = releases?.target.tags ?? [];
      expect(tags.length).toBeGreaterThan(0);
      expect(tags.every((t) => eventTags(event).includes(t))).toBe(true);
      // Another app's (or namespace's) releases do not show.
      const other = eventTags({ ...event, namespace: 'pavemaster-production' });
      expect(tags.every((t) => other.includes(t))).toBe(false);
    }
  });
});

describe('release annotations: the posts, to a recording server on 127.0.0.1', () => {
  let grafana: Recorder;
  let slack: Recorder;
  beforeAll(async () => {
    grafana = await startRecorder();
    slack = await startRecorder();
  });
  afterAll(async () => {
    await grafana?.close();
    await slack?.close();
  });
  beforeEach(() => {
    grafana.requests.length = 0;
    slack.requests.length = 0;
    grafana.status = 200;
    slack.status = 200;
  });

  function plan(token: string, hook: string): AnnotationPlan {
    return {
      grafana: {
        kind: 'direct',
        url: grafana.url,
        authorization: new SecretText(`Bearer ${token}`),
        source: 'test',
      },
      slack: { url: hook, description: 'the Slack webhook at 127.0.0.1' },
      skipped: [],
    };
  }

  it('posts the annotation (slot, image, version, who) to Grafana and the message to Slack', async () => {
    const token = fake(7);
    const hook = `${slack.url}/services/${fake(8)}`;
    const outcomes = await postAnnotations(plan(token, hook), event, { timeoutMs: 2000, tags: ['team:web'] });
    expect(outcomes).toEqual([
      { target: 'grafana', outcome: 'posted', detail: 'annotated on Grafana: test' },
      { target: 'slack', outcome: 'posted', detail: 'posted to the Slack webhook at 127.0.0.1' },
    ]);
    expect(grafana.requests).toHaveLength(1);
    const g = grafana.requests[0];
    expect([g.method, g.path, g.headers.authorization, g.headers['content-type']]).toEqual([
      'POST',
      '/api/annotations',
      `Bearer ${token}`,
      'application/json',
    ]);
    const body = JSON.parse(g.body) as { time: number; tags: string[]; text: string };
    expect(body).toEqual({
      time: event.time,
      tags: [
        'pavemaster-release',
        'namespace:pavemaster-staging',
        'app:pavemaster',
        'stack:staging',
        'step:promote',
        'slot:green',
        'version:2.0.0',
        'team:web',
      ],
      text: 'staging: promote r20261202-133000: traffic blue -> green (version 2.0.0, image pavemaster/web:2.0.0) by alice@ci-7 (pid 42)',
    });
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0].path).toBe(new URL(hook).pathname);
    const message = JSON.parse(slack.requests[0].body) as { text: string; blocks: unknown[] };
    expect(message.text).toBe(eventText(event));
    expect(JSON.stringify(message.blocks)).toContain('*Image*\\npavemaster/web:2.0.0');
  });

  it('reaches an in-cluster Grafana through the port-forward it is given, and closes it', async () => {
    let closed = false;
    const port = Number(new URL(grafana.url).port);
    const outcomes = await postAnnotations(
      {
        grafana: {
          kind: 'port-forward',
          service: { namespace: 'mon', service: 'grafana', port: '3000', scheme: 'http' },
          authorization: new SecretText('Basic x'),
          source: 'own',
        },
        skipped: [],
      },
      {
        ...event,
        kind: 'flip-back',
        from: 'green',
        to: 'blue',
        version: '1.0.0',
        detail: 'post-promotion breach',
      },
      {
        timeoutMs: 2000,
        forward: (ref) => {
          expect(ref.service).toBe('grafana');
          return Promise.resolve({ localPort: port, close: () => ((closed = true), Promise.resolve()) });
        },
      },
    );
    expect(outcomes).toEqual([{ target: 'grafana', outcome: 'posted', detail: 'annotated on Grafana: own' }]);
    expect(closed).toBe(true);
    expect(JSON.parse(grafana.requests[0].body)).toMatchObject({
      tags: expect.arrayContaining(['step:flip-back', 'slot:blue', 'version:1.0.0']),
      text: expect.stringMatching(/automatic flip-back .*traffic green -> blue .*: post-promotion breach$/),
    });
  });

  it('a refused or unreachable post is an outcome naming why, never the webhook URL or the token', async () => {
    const closed = await startRecorder();
    const closedPort = new URL(closed.url).port;
    await closed.close();
    const token = fake(9);
    const secretPath = `/services/${fake(10)}`;
    grafana.status = 401;
    grafana.body = '{"message":"invalid API key"}';
    const [g, s] = await postAnnotations(plan(token, `http://127.0.0.1:${closedPort}${secretPath}`), event, {
      timeoutMs: 2000,
    });
    expect(g).toEqual({
      target: 'grafana',
      outcome: 'failed',
      detail: 'HTTP 401 from Grafana test: {"message":"invalid API key"}',
    });
    expect(s).toEqual({
      target: 'slack',
      outcome: 'failed',
      detail: 'the Slack webhook at 127.0.0.1: ECONNREFUSED',
    });
    expect(JSON.stringify([g, s])).not.toContain(token);
    expect(JSON.stringify([g, s])).not.toContain(secretPath);
    const failing = await postAnnotations(
      {
        grafana: {
          kind: 'port-forward',
          service: { namespace: 'mon', service: 'grafana', port: '3000', scheme: 'http' },
          authorization: new SecretText('x'),
          source: 'own',
        },
        skipped: [],
      },
      event,
      {
        timeoutMs: 500,
        forward: () => Promise.reject(new Error('kubectl port-forward ended (exit 1): pod not running')),
      },
    );
    expect(failing).toEqual([
      {
        target: 'grafana',
        outcome: 'failed',
        detail: 'kubectl port-forward ended (exit 1): pod not running',
      },
    ]);
  });
});

describe('release annotations: what a traffic move reports (--json)', () => {
  let grafana: Recorder;
  beforeAll(async () => {
    grafana = await startRecorder();
  });
  afterAll(async () => {
    await grafana?.close();
  });

  /**
   * The parts of a session annotateRelease reads: the stack's settings, its outputs, the output and the log. The
   * rest of a Session (the engine, the cluster) plays no part in an annotation to a Grafana reached directly.
   */
  function session(
    config: Record<string, unknown>,
    outputs: () => Promise<Record<string, { value: unknown }>>,
    monitoring = { enabled: true, grafana: { enabled: true } },
  ): { s: Session; out: string[]; log: { step: string; outcome: string; detail?: string }[] } {
    const out: string[] = [];
    const log: { step: string; outcome: string; detail?: string }[] = [];
    const partial = {
      name: 'staging',
      app: 'pavemaster',
      settings: { namespace: 'pavemaster-staging', monitoring },
      release: parseReleaseFor(config),
      outputs,
      version: () => '2.0.0',
      image: () => 'pavemaster/web:2.0.0',
      out: (line: string) => out.push(line),
      log: {
        write: (step: string, outcome: string, fields: { detail?: string } = {}) =>
          log.push({ step, outcome, detail: fields.detail }),
      },
    };
    return { s: partial as unknown as Session, out, log };
  }

  const validate = new Ajv({ allErrors: true }).compile(
    JSON.parse(fs.readFileSync(path.join(REPO, 'release', 'schema.json'), 'utf8')) as object,
  );

  /** The outcomes as a promote's --json document, checked against release/schema.json. */
  function promoteDocument(annotations: AnnotationOutcome[]): { annotations: unknown } {
    const doc = JSON.parse(
      JSON.stringify(
        document({
          command: 'promote',
          stack: 'staging',
          ok: true,
          exitCode: 0,
          result: promoteJson({ gates: [], annotations }),
        }),
      ),
    ) as { result: { annotations: unknown } };
    expect([validate(doc), validate.errors]).toEqual([true, null]);
    return doc.result;
  }

  it('says per target whether it posted, skipped (not configured) or failed (the reason), Grafana first', async () => {
    const token = fake(11);
    grafana.status = 500;
    grafana.body = '{"message":"database is locked"}';
    const { s, out, log } = session(
      { release: { annotations: { grafanaUrl: grafana.url } }, grafanaToken: token },
      () => Promise.reject(new Error('not read: the Grafana URL is configured')),
    );
    const outcomes = await annotateRelease(s, {
      kind: 'promote',
      from: 'blue',
      to: 'green',
      releaseId: 'r1',
    });
    expect(promoteDocument(outcomes).annotations).toEqual([
      {
        event: 'promote',
        target: 'grafana',
        outcome: 'failed',
        detail: `HTTP 500 from Grafana pavemaster:release.annotations.grafanaUrl (${grafana.url}): {"message":"database is locked"}`,
      },
      {
        event: 'promote',
        target: 'slack',
        outcome: 'skipped',
        detail: 'Slack: no webhook (pavemaster:releaseSlackWebhookUrl)',
      },
    ]);
    expect(out).toEqual([
      `WARNING: the promote was not annotated on Grafana (HTTP 500 from Grafana pavemaster:release.annotations.grafanaUrl (${grafana.url}): {"message":"database is locked"}); the release itself is unaffected`,
    ]);
    expect(log.map((r) => r.outcome)).toEqual(['warning']);
    expect(JSON.stringify(outcomes)).not.toContain(token);

    grafana.status = 200;
    const ok = await annotateRelease(s, { kind: 'flip-back', from: 'green', to: 'blue', releaseId: 'r1' });
    expect(ok.map((o) => [o.event, o.target, o.outcome])).toEqual([
      ['flip-back', 'grafana', 'posted'],
      ['flip-back', 'slack', 'skipped'],
    ]);
  });

  it("names why the stack's own Grafana was not annotated when its outputs cannot be read; all off is all skipped", async () => {
    const { s, out } = session({}, () => Promise.reject(new Error('the checkpoint is unreadable')));
    const outcomes = await annotateRelease(s, { kind: 'rollback', from: 'green', to: 'blue' });
    expect(promoteDocument(outcomes).annotations).toEqual([
      {
        event: 'rollback',
        target: 'grafana',
        outcome: 'failed',
        detail: "Grafana: the stack's outputs could not be read: the checkpoint is unreadable",
      },
      {
        event: 'rollback',
        target: 'slack',
        outcome: 'skipped',
        detail: 'Slack: no webhook (pavemaster:releaseSlackWebhookUrl)',
      },
    ]);
    expect(out).toHaveLength(1);
    const off = session({ release: { annotations: { grafana: false, slack: false } } }, () =>
      Promise.reject(new Error('not read')),
    );
    const none = await annotateRelease(off.s, { kind: 'rollback-to', from: 'blue', to: 'green' });
    expect(none.map((o) => [o.target, o.outcome])).toEqual([
      ['grafana', 'skipped'],
      ['slack', 'skipped'],
    ]);
    expect(off.log.map((r) => r.outcome)).toEqual(['skipped']);
    expect(off.out).toEqual([]);
  });

  it('without a Grafana of the stack (monitoring.grafana or monitoring off) says plainly that nothing was written', async () => {
    const own = {
      grafanaUrl: 'http://grafana.pavemaster-staging-monitoring.svc:3000',
      grafanaAdminPassword: fake(12),
    };
    grafana.requests.length = 0;
    let reads = 0;
    const outputs = () => {
      reads++;
      // An output left from an update before Grafana was turned off: not to be taken for a Grafana.
      return Promise.resolve({ monitoring: { value: own } });
    };
    for (const [monitoring, why] of [
      [{ enabled: true, grafana: { enabled: false } }, 'pavemaster:monitoring.grafana.enabled is false'],
      [{ enabled: false, grafana: { enabled: true } }, 'pavemaster:monitoring.enabled is false'],
    ] as const) {
      const { s, out, log } = session({}, outputs, monitoring);
      const outcomes = await annotateRelease(s, {
        kind: 'promote',
        from: 'blue',
        to: 'green',
        releaseId: 'r2',
      });
      expect(promoteDocument(outcomes).annotations).toEqual([
        {
          event: 'promote',
          target: 'grafana',
          outcome: 'skipped',
          detail: `Grafana: no annotation written: the stack has no Grafana (${why}) and no external Grafana is configured (pavemaster:release.annotations.grafanaUrl, with the secret pavemaster:grafanaToken)`,
        },
        {
          event: 'promote',
          target: 'slack',
          outcome: 'skipped',
          detail: 'Slack: no webhook (pavemaster:releaseSlackWebhookUrl)',
        },
      ]);
      expect(out).toEqual([]);
      expect(log.map((r) => r.outcome)).toEqual(['skipped']);
    }
    expect(reads).toBe(0);
    expect(grafana.requests).toHaveLength(0);
  });

  it('without a Grafana of the stack, annotates the external Grafana the stack configures', async () => {
    grafana.requests.length = 0;
    grafana.status = 200;
    const token = fake(13);
    const { s } = session(
      { release: { annotations: { grafanaUrl: grafana.url } }, grafanaToken: token },
      () => Promise.reject(new Error('not read: the Grafana URL is configured')),
      { enabled: true, grafana: { enabled: false } },
    );
    const outcomes = await annotateRelease(s, {
      kind: 'promote',
      from: 'blue',
      to: 'green',
      releaseId: 'r3',
    });
    expect(outcomes[0]).toEqual({
      event: 'promote',
      target: 'grafana',
      outcome: 'posted',
      detail: `annotated on Grafana: pavemaster:release.annotations.grafanaUrl (${grafana.url})`,
    });
    expect(grafana.requests.map((r) => [r.path, r.headers.authorization])).toEqual([
      ['/api/annotations', `Bearer ${token}`],
    ]);
  });
});
