/**
 * Release annotations, like Argo CD's and Flagger's deployment markers: each promote, automatic flip-back and
 * rollback is annotated on the Grafana dashboards and posted to Slack, with the slot, image, version and who ran
 * it, so a graph's change lines up with the release that caused it.
 *
 * - Grafana: one organization annotation through its HTTP API (`POST /api/annotations`), tagged
 *   `pavemaster-release`, `namespace:<ns>` and `app:<app>`; the provisioned dashboards show the annotations with
 *   those tags (components/monitoring/dashboard.ts). The stack's own Grafana is reached through a port-forward of
 *   the release command's own cluster client (no `kubectl`): the API server's service proxy cannot carry
 *   Grafana's credentials (it authenticates the request itself and removes the `Authorization` header).
 * - Slack: the incoming webhook `pavemaster:releaseSlackWebhookUrl` (not the alerts' one: the workflows post there).
 *
 * A post that fails is a warning on the output and in the release log, never a failed release: traffic already
 * moved, and the annotation only describes it. The webhook URL and tokens are secrets: no message names them.
 */
import { releaseAnnotationTags } from '../components/shared/release';
import { Slot } from '../components/shared/slots';
import { AnnotationSettings, SecretText } from '../stacks/release';
import type { Kube } from './kube';
import { releaseHolder } from './lock';
import { inClusterService, isTimeout, ServiceRef } from './postPromotion';
import type { Session } from './session';
import { undici } from './undici';

/** The release steps that are annotated. */
export type ReleaseEventKind = 'promote' | 'flip-back' | 'rollback' | 'rollback-to';

/** What happened: one traffic move. */
export interface ReleaseEvent {
  kind: ReleaseEventKind;
  stack: string;
  namespace: string;
  app: string;
  from: Slot;
  /** The slot that now takes the traffic. */
  to: Slot;
  /** Its version and image. */
  version: string;
  image: string;
  releaseId?: string;
  /** Who ran it: the CI actor and run, or user@host (pid). */
  who: string;
  /** Why (a flip-back's breach, a rollback's target version). */
  detail?: string;
  /** When, in milliseconds since the epoch. */
  time: number;
}

const TITLE: Record<ReleaseEventKind, string> = {
  promote: 'promote',
  'flip-back': 'automatic flip-back',
  rollback: 'rollback',
  'rollback-to': 'rollback --to',
};

/** The annotation's text: one line a person reads on the graph's tooltip or in the channel. */
export function eventText(e: ReleaseEvent): string {
  return (
    `${e.stack}: ${TITLE[e.kind]}${e.releaseId ? ` ${e.releaseId}` : ''}: traffic ${e.from} -> ${e.to} ` +
    `(version ${e.version}, image ${e.image}) by ${e.who}${e.detail ? `: ${e.detail}` : ''}`
  );
}

/** The tags the dashboards filter on, then the step's own, then the stack's extra tags. */
export function eventTags(e: ReleaseEvent, extra: readonly string[] = []): string[] {
  return [
    ...releaseAnnotationTags(e.namespace, e.app),
    `stack:${e.stack}`,
    `step:${e.kind}`,
    `slot:${e.to}`,
    `version:${e.version}`,
    ...extra,
  ];
}

/** Grafana's annotation body (`POST /api/annotations`). */
export function grafanaAnnotation(e: ReleaseEvent, extra: readonly string[] = []): Record<string, unknown> {
  return { time: e.time, tags: eventTags(e, extra), text: eventText(e) };
}

/** The Slack message (incoming webhook): the text, plus the fields as a block. */
export function slackMessage(e: ReleaseEvent): Record<string, unknown> {
  const fields = [
    ['Stack', e.stack],
    ['Step', TITLE[e.kind]],
    ['Traffic', `${e.from} -> ${e.to}`],
    ['Version', e.version],
    ['Image', e.image],
    ['By', e.who],
  ].map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v}` }));
  return {
    text: eventText(e),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: eventText(e) } },
      { type: 'section', fields },
    ],
  };
}

/** How one post is sent: where, with which `Authorization`, and what the messages call it. */
export interface PostTarget {
  url: string;
  authorization?: SecretText;
  /** Names the target in messages; never the secret URL itself. */
  description: string;
}

/** POSTs JSON; resolves to `undefined` on a 2xx answer, else to what went wrong (never throws). */
export async function postJson(
  target: PostTarget,
  body: unknown,
  timeoutMs: number,
): Promise<string | undefined> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (target.authorization) {
    headers.authorization = target.authorization.reveal();
  }
  try {
    const res = await undici().fetch(target.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) {
      return undefined;
    }
    return `HTTP ${res.status} from ${target.description}: ${text.slice(0, 200).trim()}`;
  } catch (e) {
    if (isTimeout(e)) {
      return `no answer from ${target.description} within ${timeoutMs} ms`;
    }
    const cause = e instanceof Error ? (e.cause as (Error & { code?: string }) | undefined) : undefined;
    return `${target.description}: ${cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e))}`;
  }
}

/** Where the Grafana annotation goes. */
export type GrafanaPlan =
  | { kind: 'direct'; url: string; authorization: SecretText; source: string }
  | { kind: 'port-forward'; service: ServiceRef; authorization: SecretText; source: string };

/** Where an annotation goes. */
export type AnnotationTarget = 'grafana' | 'slack';

/** The order of the outcomes of one traffic move. */
const TARGETS: readonly AnnotationTarget[] = ['grafana', 'slack'];

/**
 * The outcome of one post: made, skipped (not configured, or turned off) or failed; `detail` says where it went,
 * why it was not made, or what went wrong. Never a secret (the webhook URL, a token).
 */
export interface PostOutcome {
  target: AnnotationTarget;
  outcome: 'posted' | 'skipped' | 'failed';
  detail: string;
}

/** What gets posted, and why anything is not. */
export interface AnnotationPlan {
  grafana?: GrafanaPlan;
  slack?: PostTarget;
  /** Why Grafana or Slack gets nothing (shown as info, not a warning: nothing is configured). */
  skipped: PostOutcome[];
}

function basic(user: string, password: string): SecretText {
  return new SecretText(`Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`);
}

/** Whether the stack's config gives it a Grafana of its own (`pavemaster:monitoring.enabled`, `.grafana.enabled`). */
export interface StackGrafana {
  monitoringEnabled: boolean;
  grafanaEnabled: boolean;
}

/** The stack's own Grafana as its settings say (a session's settings, read before anything is posted). */
export function stackGrafana(monitoring: { enabled: boolean; grafana: { enabled: boolean } }): StackGrafana {
  return { monitoringEnabled: monitoring.enabled, grafanaEnabled: monitoring.grafana.enabled };
}

/** What to configure for an annotation on another Grafana: the same words wherever none is written. */
const EXTERNAL_GRAFANA =
  'no external Grafana is configured (pavemaster:release.annotations.grafanaUrl, with the secret pavemaster:grafanaToken)';

/** Why the stack has no Grafana of its own to annotate, by its config; undefined when it has one. */
function noOwnGrafana(stack: StackGrafana): string | undefined {
  if (!stack.monitoringEnabled) {
    return 'pavemaster:monitoring.enabled is false';
  }
  return stack.grafanaEnabled ? undefined : 'pavemaster:monitoring.grafana.enabled is false';
}

/**
 * Decides where the annotations go: the configured Grafana (token) or the stack's own (its `monitoring`
 * output: in-cluster URL and generated admin password), and the Slack webhook. `stack` is what the stack's config
 * says about its own Grafana: without one (monitoring or Grafana turned off) and without a configured
 * `grafanaUrl` the Grafana outcome says plainly that no annotation was written and why, whatever an output left
 * from an older update still names.
 */
export function planAnnotations(
  a: AnnotationSettings,
  monitoringOutput: unknown,
  stack: StackGrafana = { monitoringEnabled: true, grafanaEnabled: true },
): AnnotationPlan {
  const skipped: PostOutcome[] = [];
  const skip = (target: AnnotationTarget, detail: string): void => {
    skipped.push({ target, outcome: 'skipped', detail });
  };
  let grafana: GrafanaPlan | undefined;
  const own =
    typeof monitoringOutput === 'object' && monitoringOutput !== null
      ? (monitoringOutput as { grafanaUrl?: unknown; grafanaAdminPassword?: unknown })
      : {};
  const noOwn = noOwnGrafana(stack);
  if (!a.grafana) {
    skip('grafana', 'Grafana: pavemaster:release.annotations.grafana is false');
  } else if (a.grafanaUrl === undefined && noOwn !== undefined) {
    skip(
      'grafana',
      `Grafana: no annotation written: the stack has no Grafana (${noOwn}) and ${EXTERNAL_GRAFANA}`,
    );
  } else {
    const url = a.grafanaUrl ?? (typeof own.grafanaUrl === 'string' ? own.grafanaUrl : undefined);
    const source =
      a.grafanaUrl !== undefined ? 'pavemaster:release.annotations.grafanaUrl' : "the stack's own Grafana";
    const authorization =
      a.grafanaToken !== undefined
        ? new SecretText(`Bearer ${a.grafanaToken.reveal()}`)
        : a.grafanaUrl === undefined && typeof own.grafanaAdminPassword === 'string'
          ? basic('admin', own.grafanaAdminPassword)
          : undefined;
    if (url === undefined) {
      // The config has a Grafana of the stack's own, but the outputs name none: the stack was not deployed with it.
      skip(
        'grafana',
        `Grafana: no annotation written: the stack's outputs name no Grafana of its own (not deployed with it yet: run \`pulumi up\`) and ${EXTERNAL_GRAFANA}`,
      );
    } else if (authorization === undefined) {
      skip(
        'grafana',
        `Grafana: ${url} needs a service-account token: set it with \`pulumi config set --secret pavemaster:grafanaToken <token>\``,
      );
    } else {
      const service = inClusterService(url);
      grafana = service
        ? {
            kind: 'port-forward',
            service,
            authorization,
            source: `${source} (${url}, through a port-forward)`,
          }
        : { kind: 'direct', url, authorization, source: `${source} (${url})` };
    }
  }
  let slack: PostTarget | undefined;
  if (!a.slack) {
    skip('slack', 'Slack: pavemaster:release.annotations.slack is false');
  } else if (a.slackWebhookUrl === undefined) {
    skip('slack', 'Slack: no webhook (pavemaster:releaseSlackWebhookUrl)');
  } else {
    let host = 'the Slack webhook';
    try {
      host = `the Slack webhook at ${new URL(a.slackWebhookUrl.reveal()).host}`;
    } catch {
      // the URL was checked when the config was read
    }
    slack = { url: a.slackWebhookUrl.reveal(), description: host };
  }
  return { grafana, slack, skipped };
}

/** A port-forward to a Service, on a free loopback port. */
export interface PortForward {
  localPort: number;
  close(): Promise<void>;
}

/**
 * A port-forward to the Service through the release command's own cluster client (release/kube.ts: the client
 * library's port-forward to one ready pod of the Service, through the kubelet; no `kubectl` process). Not the API
 * server's service proxy: it authenticates the request itself and removes the `Authorization` header, so Grafana
 * would never see its credentials. The Service's NetworkPolicies do not apply, and no ingress is needed.
 */
export async function portForward(kube: Kube, ref: ServiceRef): Promise<PortForward> {
  try {
    return await kube.in(ref.namespace).forwardService(ref.service, ref.port);
  } catch (e) {
    throw new Error(
      `port-forward to ${ref.namespace}/${ref.service}:${ref.port}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** Posts one event as planned; every failure is an outcome, never an exception. */
export async function postAnnotations(
  plan: AnnotationPlan,
  e: ReleaseEvent,
  opts: {
    timeoutMs: number;
    tags?: readonly string[];
    forward?: (ref: ServiceRef) => Promise<PortForward>;
  },
): Promise<PostOutcome[]> {
  const posts: Promise<PostOutcome>[] = [];
  const g = plan.grafana;
  if (g) {
    posts.push(
      (async (): Promise<PostOutcome> => {
        let forward: PortForward | undefined;
        try {
          let base: string;
          if (g.kind === 'port-forward') {
            if (opts.forward === undefined) {
              throw new Error('no port-forward to reach an in-cluster Grafana');
            }
            forward = await opts.forward(g.service);
            base = `${g.service.scheme}://127.0.0.1:${forward.localPort}`;
          } else {
            base = g.url;
          }
          const problem = await postJson(
            {
              url: new URL('api/annotations', base.endsWith('/') ? base : `${base}/`).toString(),
              authorization: g.authorization,
              description: `Grafana ${g.source}`,
            },
            grafanaAnnotation(e, opts.tags),
            opts.timeoutMs,
          );
          return problem === undefined
            ? { target: 'grafana', outcome: 'posted', detail: `annotated on Grafana: ${g.source}` }
            : { target: 'grafana', outcome: 'failed', detail: problem };
        } catch (err) {
          return {
            target: 'grafana',
            outcome: 'failed',
            detail: err instanceof Error ? err.message : String(err),
          };
        } finally {
          await forward?.close();
        }
      })(),
    );
  }
  const slack = plan.slack;
  if (slack) {
    posts.push(
      postJson(slack, slackMessage(e), opts.timeoutMs).then((problem) =>
        problem === undefined
          ? { target: 'slack', outcome: 'posted', detail: `posted to ${slack.description}` }
          : { target: 'slack', outcome: 'failed', detail: problem },
      ),
    );
  }
  return Promise.all(posts);
}

/** One post's outcome for one traffic move (`--json`: each promote, flip-back and rollback lists them). */
export interface AnnotationOutcome extends PostOutcome {
  event: ReleaseEventKind;
}

/**
 * Annotates a traffic move of a session's stack (its settings, its `monitoring` output, who runs it), says so on
 * the output and in the release log, and returns one outcome per target, Grafana first: posted, skipped (with
 * what is not configured) or failed (with the reason). A post that fails prints a WARNING line.
 */
export async function annotateRelease(
  s: Session,
  event: Omit<ReleaseEvent, 'stack' | 'namespace' | 'app' | 'who' | 'time' | 'version' | 'image'> &
    Partial<Pick<ReleaseEvent, 'version' | 'image'>>,
): Promise<AnnotationOutcome[]> {
  const a = s.release.annotations;
  let monitoring: unknown;
  let unreadable: string | undefined;
  const stack = stackGrafana(s.settings.monitoring);
  // The outputs are read only for a Grafana of the stack's own: without one, there is nothing to find in them.
  if (a.grafana && a.grafanaUrl === undefined && noOwnGrafana(stack) === undefined) {
    try {
      monitoring = (await s.outputs()).monitoring?.value;
    } catch (e) {
      // Where the stack's own Grafana is cannot be known: a failure with the reason, not "no Grafana".
      unreadable = `Grafana: the stack's outputs could not be read: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  const planned = planAnnotations(a, monitoring, stack);
  const plan: AnnotationPlan =
    unreadable === undefined
      ? planned
      : { ...planned, grafana: undefined, skipped: planned.skipped.filter((o) => o.target !== 'grafana') };
  const e: ReleaseEvent = {
    ...event,
    stack: s.name,
    namespace: s.settings.namespace,
    app: s.app,
    version: event.version ?? s.version(event.to),
    image: event.image ?? s.image(event.to),
    who: releaseHolder(),
    time: Date.now(),
  };
  const started = Date.now();
  const posted = await postAnnotations(plan, e, {
    timeoutMs: a.timeoutSeconds * 1000,
    tags: a.tags,
    forward: (ref) => portForward(s.kube, ref),
  });
  const outcomes: PostOutcome[] = [
    ...(unreadable !== undefined
      ? [{ target: 'grafana', outcome: 'failed', detail: unreadable } as const]
      : []),
    ...posted,
    ...plan.skipped,
  ].sort((x, y) => TARGETS.indexOf(x.target) - TARGETS.indexOf(y.target));
  // One record per traffic move: what was posted, what failed, what is not configured.
  const failed = outcomes.filter((o) => o.outcome === 'failed');
  const detail = outcomes.map((o) => o.detail).join('; ');
  const durationMs = Date.now() - started;
  if (outcomes.every((o) => o.outcome === 'skipped')) {
    s.log.write('annotate', 'skipped', { detail });
  } else if (failed.length === 0) {
    s.log.write('annotate', 'succeeded', { detail, durationMs });
  } else {
    s.log.write('annotate', 'warning', { detail, durationMs });
    for (const o of failed) {
      s.out(
        `WARNING: the ${e.kind} was not annotated on ${o.target === 'grafana' ? 'Grafana' : 'Slack'} (${o.detail}); the release itself is unaffected`,
      );
    }
  }
  return outcomes.map((o) => ({ event: e.kind, ...o }));
}
